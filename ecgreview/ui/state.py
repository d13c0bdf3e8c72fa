"""Session-state keys, in one place."""

READER_NAME = "reader_name"
CASE_SOURCE = "case_source"
CASE_FILE = "case_file"
MODEL_CHOICE = "model_choice"
LAST_SAVED = "last_saved_review"
PENDING_REVIEW = "pending_review"
FORM_NONCE = "review_form_nonce"

SOURCE_DEMO = "Demo ECG"
SOURCE_FOLDER = "Case folder"
SOURCE_UPLOAD = "Upload"
