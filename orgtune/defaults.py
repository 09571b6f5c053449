"""Every limit and default orgtune applies, in one place.

Each constant has a one-line reason under it. Limits that guard against hostile
uploads are deliberately conservative: an organisation's handbook fits easily, a
decompression bomb or a 2,000-page scan does not.
"""

from __future__ import annotations

# --- Uploads: checked before and during download -------------------------------

MAX_FILE_BYTES = 20 * 1024 * 1024
"""20 MiB: larger than any text handbook; Slack's own metadata is checked before download."""

DOWNLOAD_TIMEOUT_S = 60.0
"""A download slower than this is a stuck connection, not a document."""

DOWNLOAD_CHUNK_BYTES = 64 * 1024
"""Read size while streaming, so the size limit is enforced during download."""

MAX_DOWNLOAD_REDIRECTS = 5
"""Slack uses two hops (within *.slack.com, then to a presigned file host); more than 5 is a loop."""

SLACK_TOKEN_FILE_HOSTS = ("slack.com", "files.slack.com", "*.slack.com")
"""Real Slack's own hosts: url_private is on files.slack.com and may hop within *.slack.com, which need
the token. ``*.`` matches subdomains on a label boundary only (never evilslack.com)."""

SLACK_TOKENLESS_FILE_HOSTS = ("slack-edge.com", "*.slack-edge.com", "slack-files.com", "*.slack-files.com")
"""Slack's file hosts that serve presigned links: a download may be redirected there, without the token."""

# --- Parsing: every parse runs in a sandboxed child within these bounds ----------

PARSE_TIMEOUT_S = 60.0
"""Wall-clock bound on extracting one file; pathological PDFs can loop for hours."""

PARSE_MEMORY_BYTES = 1536 * 1024 * 1024
"""Address-space cap for the parsing child, so a bomb kills the child, not the worker."""

MAX_PDF_PAGES = 500
"""Documents longer than 500 pages are books or scans, not team knowledge."""

MAX_DECOMPRESSED_BYTES = 100 * 1024 * 1024
"""Total uncompressed size allowed inside a DOCX zip; guards against zip bombs."""

MAX_COMPRESSION_RATIO = 100
"""A zip member expanding more than 100x is a bomb; real DOCX XML compresses ~5-10x."""

MAX_ZIP_MEMBERS = 2000
"""A DOCX has tens of parts; thousands means an attack on the zip reader."""

MAX_TEXT_CHARS = 2_000_000
"""Extracted text cap (~300k words); beyond this training examples add nothing."""

MAX_SECTIONS = 2000
"""Upper bound on sections per document, so one file cannot flood retrieval."""

MAX_SECTION_WORDS = 400
"""Long sections are split into parts of about this many words for retrieval."""

MIN_DOCUMENT_WORDS = 5
"""Fewer words than this carries no knowledge worth storing."""

MAX_BINARY_CONTROL_RATIO = 0.05
"""Text with more than 5% control characters is binary data named like text."""

# --- Slack etiquette -----------------------------------------------------------

ACK_DEADLINE_S = 3.0
"""Slack drops a request that is not acknowledged within 3 seconds."""

PROGRESS_UPDATE_INTERVAL_S = 3.0
"""Minimum gap between chat.update calls on one progress message (Slack tier limits)."""

MAX_MESSAGE_CHARS = 3500
"""Keep messages under Slack's 4,000-character text limit with room for formatting."""

SLACK_SECTION_CHARS = 3000
"""Slack's limit on a section block's text; over it the whole message is refused (invalid_blocks)."""

MAX_ANSWER_SECTIONS = 4
"""A long answer is split over this many sections (12,000 characters) before it is cut with "…":
more than that is a document to read, not an answer to a question."""

MAX_QUOTED_QUESTION_CHARS = 500
"""How much of a /ask question is quoted above its answer."""

MAX_LISTED_DOCUMENTS = 50
"""`/orgtune docs` lists at most this many documents; the count is always shown."""

EVENT_DEDUP_TTL_S = 24 * 3600
"""Slack retries an event for minutes; a day of remembered ids is ample."""

EVENT_PRUNE_INTERVAL_S = 3600
"""How often a running bot deletes event ids older than EVENT_DEDUP_TTL_S."""

# --- Queues and jobs -----------------------------------------------------------

QUEUE_INGEST = "ingest"
"""CPU queue: downloading and parsing documents."""

QUEUE_TRAIN = "train"
"""GPU queue: generating examples and fine-tuning adapters."""

QUEUE_ANSWER = "answer"
"""GPU queue: answering questions with a warm model."""

INGEST_JOB_TIMEOUT_S = 300
"""Download plus sandboxed parse plus replies; RQ's 180 s default is too tight for 20 MiB."""

JOB_RESULT_TTL_S = 24 * 3600
"""Keep job results a day for debugging; the database holds the durable state."""

JOB_FAILURE_TTL_S = 7 * 24 * 3600
"""Keep failed jobs a week so a deployer can inspect tracebacks."""

INGEST_REQUEUE_WAIT_S = 10.0
"""A re-shared file's failed job ends moments after it told the channel; wait this long for RQ to record it."""

REDIS_SOCKET_TIMEOUT_S = 2.0
"""Bound every Redis call from the bot so an outage cannot block a Slack ack."""

# --- Storage -------------------------------------------------------------------

DATA_DIR = ".orgtune"
"""Default data directory (SQLite database and artifacts), relative to the working directory."""

SQLITE_BUSY_TIMEOUT_MS = 10_000
"""The bot and workers write the same SQLite file; wait for locks instead of failing."""

DB_CONNECT_TIMEOUT_S = 10
"""PostgreSQL connect timeout (unless the URL sets one): a host that drops packets would otherwise hold
each connect for the OS's TCP timeout (about two minutes); a reachable server answers in milliseconds."""

STARTUP_WAIT_S = 120.0
"""`orgtune serve` and `orgtune worker` wait this long at start for the database to answer and to reach
this release's migration: the release phase's `orgtune db upgrade` takes seconds and a managed PostgreSQL
fails over in about a minute. Then they exit non-zero, saying why, and the platform restarts them."""

STARTUP_RETRY_FIRST_S = 0.5
"""First pause between those checks; it doubles up to STARTUP_RETRY_MAX_S."""

STARTUP_RETRY_MAX_S = 5.0
"""Longest pause between checks: a waiting process starts within seconds of the upgrade, and asks a
down database at most 12 times a minute."""

# --- Local serving -------------------------------------------------------------

HTTP_PORT = 3000
"""Port for `orgtune serve` in HTTP mode when $PORT is unset."""

SLACK_API_URL = "https://slack.com/api/"
"""Slack Web API base URL; tests and the demo point this at the local emulator."""

SLACK_JOB_TIMEOUT_S = 30
"""Seconds a worker waits for one Web API answer (uploads of a chart included)."""

SLACK_BOT_TIMEOUT_S = 10
"""The bot's calls run after the ack, but a hung call still holds one of Bolt's listener threads."""

SLACK_RATE_LIMIT_RETRIES = 5
"""429s retried after Retry-After: enough to outlast a burst on a Tier 2 method (20 a minute),
few enough that a job never waits on Slack forever."""

SLACK_SERVER_ERROR_RETRIES = 3
"""Retries of a 500/503 answer or a reset connection, with backoff; Slack's own incidents last longer,
and the job then fails with a message instead of hanging."""

SLACK_RETRY_BACKOFF_S = 0.5
"""First backoff between those retries (doubling: 0.5, 1, 2 s)."""


# --- HTTP mode (`orgtune serve` on gunicorn, bot/server.py) ----------------------

MAX_REQUEST_BYTES = 1024 * 1024
"""1 MiB: larger bodies at /slack/events get 413 unread, before Bolt or the signature check.
Slack's payloads are small: it truncates a message's text at 40,000 characters
(api.slack.com/changelog/2018-04-truncating-really-long-messages) and allows 50 blocks per
message (docs.slack.dev/reference/block-kit/blocks). So an event (text plus its rich_text copy,
≤ 4 UTF-8 bytes a character) or an interaction carrying one of our messages (≤ MAX_MESSAGE_CHARS)
stays well under it; only an edit of a huge message (message_changed, two copies) might not,
and the bot ignores edits."""

WEB_WORKERS = 1
"""gunicorn worker processes: state lives in the database and Redis, and one process's threads
ack far more requests than a workspace sends (ORGTUNE_WEB_WORKERS raises it)."""

WEB_THREADS = 8
"""Threads per worker: each request holds one only until Bolt acks (milliseconds; listeners'
slow work runs in Bolt's own pool), so 8 absorb bursts such as a dozen files shared at once."""

WEB_GRACEFUL_TIMEOUT_S = 10
"""On SIGTERM a worker finishes in-flight requests for up to this long: acks take < 3 s and
listeners only write rows and enqueue, and deploys shouldn't wait gunicorn's default 30 s."""

MAX_REQUEST_LINE_BYTES = 2048
"""Request-line cap: Slack sends `POST /slack/events`, health checks `GET /healthz`."""

MAX_REQUEST_HEADERS = 50
"""Header-count cap: Slack sends about a dozen, proxies and CDNs add a dozen more."""

MAX_HEADER_BYTES = 8190
"""Per-header size cap (gunicorn's default): room for long proxy trace headers, no more."""

# --- Retrieval and prompts (shared by training examples and answering) ----------

PASSAGE_WORDS = 90
"""Sections are cut into passages of about this many words: small enough for CPU prompts."""

PASSAGES_PER_PROMPT = 2
"""Passages placed in each prompt: the best match plus one more; a 135M model reads two better than three."""

HELDOUT_FRACTION = 0.15
"""Share of generated examples kept out of training to measure the adapter."""

MIN_HELDOUT_EXAMPLES = 4
"""Never evaluate on fewer examples than this (when there are enough)."""

DEMO_FACTS_PER_DOCUMENT = 3
"""`orgtune demo` asks about 3 facts per document (each in several phrasings), so SmolLM2 trains in a few
minutes on 2 CPU cores; ORGTUNE_FACTS_PER_DOCUMENT overrides it."""

NO_GOLD_EVERY = 4
"""Every 4th fact is also asked with its gold passage left out (target: not covered). RAFT keeps the
gold passage in most prompts; without such prompts a model learns to answer from whatever it is given."""

# --- Training --------------------------------------------------------------------

TRAIN_JOB_TIMEOUT_MIN_S = 30 * 60
"""Lower bound on a training job's timeout: loading and evaluation alone can take minutes."""

TRAIN_JOB_TIMEOUT_MAX_S = 24 * 3600
"""Upper bound: a run planned longer than a day should be split or given a GPU."""

TRAIN_JOB_TIMEOUT_FACTOR = 3.0
"""Timeout = this x the plan's estimated duration (clamped), so slow hardware isn't killed early."""

PROGRESS_BAR_WIDTH = 20
"""Characters in the progress bar of the training message."""

MAX_EXAMPLES_PER_RUN = 2000
"""Cap on generated examples for one run, however many documents a channel has."""

WORKER_HEARTBEAT_STALE_S = 180
"""A worker on another host that hasn't heartbeat for 3 minutes is presumed dead (RQ beats every 30-60 s)."""

# --- Recovery (jobs/recovery.py) ---------------------------------------------------

RECOVERY_INTERVAL_S = 30.0
"""How often a worker's reconciler looks for documents, questions and runs whose job was lost;
with the grace below, a lost queued job is queued again within a minute."""

RECOVERY_GRACE_S = 30.0
"""A row younger than this may not have its job yet (the bot commits, then enqueues): left alone."""

REDIS_WATCH_INTERVAL_S = 5.0
"""How often the reconciler checks Redis's run_id: a new one means Redis restarted (and may have lost
every job), so it reconciles at once instead of at its next interval."""

RECOVERY_LOCK_S = 120
"""One reconciler at a time across all workers (a Redis lock with this expiry), so two never queue
the same lost job twice."""

RUN_HEARTBEAT_S = 30.0
"""A training work horse writes its run's heartbeat this often."""

RUN_HEARTBEAT_STALE_S = 120.0
"""A run with no live job and no heartbeat for this long has nothing running it: it is failed with a
message (four missed beats, so a busy database or a slow step doesn't end a live run)."""

# --- Worker supervision (jobs/supervisor.py) ---------------------------------------

WORKER_RESTART_LIMIT = 5
"""A child worker that dies more often than this within WORKER_RESTART_WINDOW_S is broken, not unlucky
(Redis gone, a bad release): the whole worker exits non-zero so the platform restarts it and alerts."""

WORKER_RESTART_WINDOW_S = 300.0
"""Deaths older than 5 minutes are forgotten: a child the OOM killer takes once an hour is restarted forever."""

WORKER_RESTART_BACKOFF_S = 0.5
"""Wait before restarting a dead child, doubled for each earlier death in the window (0.5, 1, 2, 4, 8 s):
a one-off crash is back at once; a crash loop gives up within about 20 s instead of spinning."""

WORKER_STOP_GRACE_S = 20.0
"""On SIGTERM a supervised worker's children may finish their current job (warm shutdown) this long, then
are stopped cold: platforms allow 30 s before SIGKILL (Heroku, Kubernetes' default), this leaves 10 s for it."""

WORKER_KILL_AFTER_S = 10.0
"""A child still running this long after its cold stop is SIGKILLed: a cold stop kills a work horse at
once, but a non-forking answer worker may be inside one long generation step."""

RQ_SIGNAL_GAP_S = 1.5
"""RQ ignores a second SIGTERM within 1 s of the first (a pool and the terminal both send one), so a cold
stop is sent no sooner than this after the warm one."""

# --- Answering -------------------------------------------------------------------

DEFAULT_ANSWER_MODEL = "smollm2"
"""Base model that answers in channels without a trained adapter."""

ANSWER_JOB_TIMEOUT_S = 300
"""Loading a model cold plus one generation; a warm answer takes seconds."""

MIN_RELEVANCE = 0.6
"""Relevance (lexical support + 0.5 x embedding similarity) the ranker's best sentence needs to be quoted
when the model's reply can't be verified (and in quote-only answering); below it the reply is 'not covered'.
Chosen on the dev file samples/handbook_eval.jsonl, between its factual and uncovered questions."""

RANKER_WEIGHT = 1.0
"""When a local model picks its quote, each sentence's mean log-probability (per token) is weighed with this
times its relevance (lexical + embedding): the model decides, the ranking breaks its near-ties.
Chosen on the dev file samples/handbook_eval.jsonl only."""

QUOTE_MIN_RELEVANCE = 0.6
"""The sentence a model quotes must be at least this relevant to the question for its answer to be posted:
the same bar the ranker's own quote must clear (MIN_RELEVANCE). On the dev file samples/handbook_eval.jsonl
every right generated answer quoted a sentence at 0.60 or more, and the model's answers to questions the
handbook doesn't cover quoted sentences at 0.41-0.59."""

NOT_COVERED_BELOW = 0.45
"""Below this relevance of the best sentence nothing in the channel is about the question: the reply is
'not covered' without asking the model. Chosen on the dev file samples/handbook_eval.jsonl only."""

CONFIDENT_RELEVANCE = 0.9
"""From this relevance on a passage plainly answers the question, so a model's 'not covered' is not
believed (the ranker's sentence is quoted instead). Between NOT_COVERED_BELOW and this the model decides.
Chosen on the dev file samples/handbook_eval.jsonl only."""

EXPORT_JOB_TIMEOUT_S = 30 * 60
"""Loading, merging, saving and reloading a 7B model takes minutes on a GPU worker; 30 min ends a stuck one."""

INFERENCE_TIMEOUT_S = 120.0
"""Bound on one request to the inference server: a warm answer takes seconds, a stuck server must not hang a job."""

ADAPTER_NAME_PREFIX = "orgtune-a"
"""Server-side adapter names are this plus the adapter id: unique and stable across workers and restarts."""

MAX_LOADED_ADAPTERS = 8
"""Adapters kept in memory per answer worker, counted across all its base models (the least recently
used is deleted from whichever base holds it before another is loaded)."""

MAX_QUESTION_CHARS = 1000
"""Longer questions are cut: they are questions, not documents."""

# --- Teacher: an LLM that writes training questions, every output checked (training/teacher.py) ----------

TEACHER_TIMEOUT_S = 300.0
"""Bound on one teacher request: a section's questions are about a thousand tokens, which a slow
server writes in a minute or two; a stuck server must not hang a training run."""

TEACHER_QUESTIONS_PER_SECTION = 4
"""Facts asked about per section; with two paraphrases each that is 12 questions, enough to cover a
section's key facts without the teacher padding with trivia."""

TEACHER_MAX_NEW_TOKENS = 1536
"""One JSON line is 60-100 tokens and a section asks for 12, with room for a preamble or code fence."""

TEACHER_MAX_SECTION_CHARS = 12_000
"""Section text sent to the teacher (about 3,000 tokens): fits any teacher's context with the output;
a longer section's later facts are left to the rule-based questions."""

TEACHER_MAX_QUESTION_WORDS = 30
"""The same bound training.examples puts on every question: longer is a paragraph, not a question."""

TEACHER_MAX_ANSWER_WORDS = 40
"""The answer is asked for as one short sentence; longer means the teacher pasted the section."""

TEACHER_MAX_QUOTE_WORDS = 60
"""A quote is one sentence or table row; a longer one is a paragraph, which may straddle two of the
PASSAGE_WORDS-word passages a training example is built from."""

TEACHER_MAX_EXPECTED_WORDS = 8
"""The expected key phrase is a number, name, date or amount; scoring looks for all of it in replies."""

NEAR_DUPLICATE_JACCARD = 0.8
"""Questions whose normalized word sets overlap this much (Jaccard) are one question asked twice: a
repeat or a reordering is dropped, one changed word in a short question (a typo variant) is kept."""

EMBEDDING_CACHE_TEXTS = 50_000
"""Chunk and sentence vectors an answer worker keeps (384 floats each, ~75 MB at the cap): a channel's
chunks are encoded once, not on every question."""

EMBEDDING_RETRIEVAL_WEIGHT = 0.5
"""A chunk's retrieval score is (1 - w) x its BM25 score over the best one + w x its embedding similarity.
On the dev files (bench/retrieval_recall.py) 0.3-0.7 all beat BM25 alone on casual questions (answer in
the top 2 passages: 37 vs 36 of 45; top 1: 34 vs 29) and lose nothing on formal ones; 0.5 is the middle."""

CHANNEL_INDEXES_KEPT = 64
"""Channels whose retrieval index an answer worker keeps (a 1,000-document channel's is ~10k chunks, tens
of MB); the least recently asked is dropped first and rebuilt on its next question."""
