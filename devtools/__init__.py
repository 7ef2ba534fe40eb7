"""Development tools, not part of the services: what `inovasi up` uses on a developer's
machine (the embedded PostgreSQL, Redis and S3 servers of `devtools.embedded`, and the
self-seeding demo of `inovasi up --demo` in `devtools.demo`). The container image does not
include them: it copies only ``services/``."""
