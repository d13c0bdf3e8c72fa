"""The Streamlit UI: pages that hold widgets only; all work happens in the library."""
