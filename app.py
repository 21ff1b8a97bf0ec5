"""The Qwen capability playground: page config, the shared model sidebar, navigation.

Run with ``make run`` (or ``streamlit run app.py``). Every page body runs
inside :func:`ui.errors.guard`, so an exception shows as an error in the page
instead of taking the app down.

The page files live in ``app_pages/``, not ``pages/``: Streamlit decides per
process (and AppTest per run) whether a ``pages/`` folder exists *before*
this script calls ``st.navigation``; when it does, the first request for a
page URL (and every AppTest rerun) executes that page file on its own,
without this script's sidebar.
"""

import streamlit as st

from ui.errors import guard
from ui.model_sidebar import render_model_sidebar
from ui.state import keep_widget_state

st.set_page_config(page_title="Qwen playground", page_icon=":material/science:", layout="wide")
keep_widget_state()

page = st.navigation(
    [
        st.Page("app_pages/chat.py", title="Chat", icon=":material/chat:", default=True),
        st.Page("app_pages/compare.py", title="Compare", icon=":material/compare_arrows:"),
        st.Page("app_pages/rag.py", title="RAG", icon=":material/library_books:"),
        st.Page("app_pages/guardrails.py", title="Guardrails", icon=":material/shield:"),
        st.Page("app_pages/models.py", title="Models", icon=":material/view_list:"),
    ]
)
render_model_sidebar()
with guard(f"The {page.title} page"):
    page.run()
