"""The dashboard: a query API over the consumers' store and a page that draws registry load."""
