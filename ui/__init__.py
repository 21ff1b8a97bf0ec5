"""Streamlit glue for the playground: cached resources, session-state accessors, shared widgets.

Only this package and ``app_pages/`` import streamlit; ``core`` and ``rag`` never do.
"""
