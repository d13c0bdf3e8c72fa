"""Session-state keys, in one place."""

READER_NAME = "reader_name"
CASE_SOURCE = "case_source"
CASE_FILE = "case_file"
MODEL_CHOICE = "model_choice"
LAST_SAVED = "last_saved_review"  # (saved case, message, case opened next or None) of the last save
PENDING_REVIEW = "pending_review"
FORM_NONCE = "review_form_nonce"

SOURCE_DEMO = "Demo ECG"
SOURCE_FOLDER = "Case folder"
SOURCE_UPLOAD = "Upload"

# Reading room
READING_MODE = "reading_mode"  # persisted across pages: one of ecgreview.review.modes.SESSION_MODES
READING_MODE_WIDGET = "reading_mode_widget"
REVEALED = "revealed_cases"  # source_sha256 of cases saved in blinded mode (opinions now shown)
CLASS_CURSOR = "class_cursor"  # index into CLASSES of the class the P/A/U keys set
ADJUDICATE = "adjudicate_consensus"
WORKLIST_ORDER = "worklist_order"  # source_sha256 of the worklist page shown, or of a study session, in order
WORKLIST_QUERY = "worklist_query"  # the worklist's filters and sort (next/previous follow them; None: a study)
WORKLIST_PAGE = "worklist_page"  # the page of the worklist shown (1-based)
WORKLIST_SELECTION = "worklist_table"
CALIPER_POINTS = "caliper_points"  # {source_sha256: [time_s, ...]} (last two clicks)
CALIPER_SEEN = "caliper_seen"  # last selection read from the trace, to count each click once
CALIPER_INTERVALS = "caliper_intervals"  # {source_sha256: {"RR": ms, ...}}
VIEW_LAYOUT = "view_layout"
VIEW_SPEED = "view_speed"
VIEW_GAIN = "view_gain"
VIEW_LEAD = "view_lead"
FILTER_HIGHPASS = "filter_highpass"
FILTER_NOTCH = "filter_notch"
FILTER_LOWPASS = "filter_lowpass"
TEACHING_ROLE = "teaching_role"
TEACHING_SESSION = "teaching_session"
TEACHING_REVEAL = "teaching_reveal"  # (session_id, source_sha256) of the answer just submitted

QUERY_CASE = "case"  # ?case=<source_sha256> opens a case on the review page
QUERY_READER = "reader"  # ?reader=<name>: the reader's name in name mode, kept by a reload (ui/session_values.py)
QUERY_MODE = "mode"  # ?mode=<reading mode>, kept by a reload
USER = "signed_in_user"  # ecgreview.security.auth.User after sign-in (auth modes local, proxy, oidc)
VIEW_EXTRAS = "view_extras"  # median beats / calipers shown on demand
READER_NAME_WIDGET = "reader_name_widget"  # the text box; READER_NAME keeps the name across pages
CASE_FOLDER_FILE = "case_folder_file"
SESSION_BINDING = "signed_in_binding"  # digest of the signing-in browser's XSRF token (local mode; ui/identity.py)
KEY_LOG = "reading_key_log"  # the reading-keys component (ecgreview.ui.keys)
KEY_LOG_APPLIED = "reading_key_log_applied"  # highest key number applied
KEY_LOG_PAGE = "reading_key_log_page"  # id of the browser page whose keys were applied
KEY_ACTIONS = "reading_key_actions"  # [(key number, "save"|"next"|"previous", source_sha256)] not yet done
CURRENT_CASE = "current_case"  # source_sha256 of the case on screen (keys apply to it)
READER_CALLS = "reader_calls"  # {(source_sha256, form nonce): {class: call}}: the reader's calls (not widget state)
CALL_VERSIONS = "call_versions"  # {(source_sha256, class): n}: renews a call widget after a key set its call
CASE_SHOWN_AT = "case_shown_at"  # {source_sha256: time.monotonic() when first shown}: the reading time
TWO_STEP_PENDING = "two_step_pending"  # {source_sha256: review_id of the unaided row awaiting its aided reading}
DNN_AVAILABLE = "dnn_available"  # {source_sha256: bool}: the DNN gave probabilities for the case
TWO_STEP_DONE = "two_step_done"  # source_sha256 of cases whose aided reading was saved in this session
STUDY_CASES = "study_cases"  # {source_sha256: StudyCase}: cases opened from a study, read in the design's mode
INDEX_REQUESTED_FOR = "index_requested_for"  # source_sha256 of links that started an index update (once each)
VIEW_SIZE = "view_size"  # "Fit" (the paper fills the column at 25 mm/s) or "True size" (Settings.screen_px_per_mm)
VIEW_PAGE = "view_page"  # prefix of the page chooser of a recording longer than 10 s (one widget per case)
VIEW_FULL_SCREEN = "view_full_screen"  # the 12-lead ECG over the whole window
VIEW_LEAD_ZOOM = "view_lead_zoom"  # magnification of the single-lead view over the 12-lead paper
REPORT_PAPER = "report_paper"  # "A4" or "Letter": the printable report's page size
UPLOAD_CHOICE = "upload_choice"  # which case of a multi-case upload the Review page shows
UPLOAD_NAMES = "upload_names"  # {internal upload name: the file name the user chose}, for messages and pickers
PREFETCHED = "prefetched_cases"  # {(source_sha256, viewer.View)}: next cases this session asked to prefetch
