"""The analyst's live view: a Streamlit multipage app reading the stores through their protocols."""
