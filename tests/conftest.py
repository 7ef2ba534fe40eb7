"""Settings every test run starts from."""

import os

# The webhook receivers of the integration and end-to-end tests listen on 127.0.0.1, which
# notify refuses by default (INOVASI_NOTIFY_ALLOW_PRIVATE_TARGETS=false, against SSRF). Set
# at import time, before any Settings is built, and only as a default: a test of the refusal
# passes notify_allow_private_targets=False explicitly, and a caller's environment wins.
os.environ.setdefault("INOVASI_NOTIFY_ALLOW_PRIVATE_TARGETS", "true")
