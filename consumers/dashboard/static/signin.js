/* The sign-in page: keep the dashboard's state (the URL's #fragment, which never reaches
   the server) across the sign-in, by adding it to the form's "next" path. */
"use strict";

(() => {
  const next = document.querySelector('#signin input[name="next"]');
  if (next && location.hash && !next.value.includes("#")) next.value += location.hash;
})();
