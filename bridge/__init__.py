"""registry-kafka-bridge: the HTTP receiver for registry notifications.

This package's ``__init__`` imports nothing heavy: the consumers import
``common.contract`` without loading Starlette or uvicorn.
"""
