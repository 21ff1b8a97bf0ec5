"""A "coming soon" page body: a title, what the page will offer, and where to go meanwhile."""

from __future__ import annotations

import streamlit as st


def coming_soon(title: str, description: str, bullets: list[str]) -> None:
    st.title(title)
    st.info("Coming soon: this page is being built.", icon=":material/construction:")
    st.markdown(description)
    for bullet in bullets:
        st.markdown(f"- {bullet}")
    st.page_link("app_pages/chat.py", label="Meanwhile, chat with the selected model", icon=":material/chat:")
