#!/usr/bin/env bash
# The end-to-end path with curl, against a running `inovasi up` (or any deployment):
# an agency's operator creates an innovation, answers its indicators, uploads evidence and
# submits; a verifier accepts and rejects; everyone reads the score. The README shows these
# steps; tests/e2e/test_walkthrough.py runs this script against a live platform.
#
#   export INOVASI_AUTH_SECRET=$(cat .inovasi/auth-secret)   # what `inovasi up` signs with
#   bash docs/walkthrough.sh
set -euo pipefail
API=${API:-http://127.0.0.1:8000}
INOVASI=${INOVASI:-.venv/bin/inovasi}
REGION=${REGION:-62.10}                 # Kabupaten Gunung Mas
AGENCY=${AGENCY:-dinkes-$RANDOM}        # a new agency each run, so the script can be re-run
json() {  # print a part of the JSON on stdin: json '["id"]'
  python3 -c "import json,sys; v=json.load(sys.stdin)$1; print(v if isinstance(v, (str, int)) else json.dumps(v))"
}

ADMIN=$($INOVASI token issue --role region_admin --region "$REGION")
OPERATOR=$($INOVASI token issue --role operator --region "$REGION" --agency "$AGENCY")
VERIFIER=$($INOVASI token issue --role verifier --region "$REGION")
VIEWER=$($INOVASI token issue --role viewer --region "$REGION")

# 1. The region admin registers the agency (OPD).
curl -sf -X POST "$API/intake/v1/regions/$REGION/agencies" -H "Authorization: Bearer $ADMIN" \
  -H 'Content-Type: application/json' -d "{\"id\": \"$AGENCY\", \"name\": \"Dinas Kesehatan\"}" >/dev/null

# 2. The operator creates an innovation profile (a draft). Idempotency-Key: a retried
#    request returns the same innovation instead of creating a second one.
RANCANG=$(python3 -c "print(' '.join(['Posyandu digital mencatat tumbuh kembang balita di setiap desa'] * 40))")
INNOVATION=$(curl -sf -X POST "$API/intake/v1/cycles/2026/innovations" -H "Authorization: Bearer $OPERATOR" \
  -H 'Content-Type: application/json' -H "Idempotency-Key: posyandu-$AGENCY" -d @- <<JSON
{"name": "Posyandu Digital", "urusan_utama": "kesehatan", "urusan_lain": ["sosial"],
 "tahapan": "penerapan", "jenis": "digital", "bentuk": "pelayanan_publik", "inisiator": "perangkat_daerah",
 "tanggal_uji_coba": "2025-02-01", "tanggal_penerapan": "2025-06-01", "rancang_bangun": "$RANCANG",
 "tujuan": "Memantau gizi balita", "manfaat": "Stunting turun", "hasil": "Cakupan penimbangan 95 persen"}
JSON
)
ID=$(echo "$INNOVATION" | json '["id"]')
VERSION=$(echo "$INNOVATION" | json '["version"]')
GRANT=$(echo "$INNOVATION" | json '["upload_grant"]')
echo "innovation $ID created (version $VERSION)"

# 3. It answers the mandatory SID indicators, each with the version it last read (If-Match):
#    a stale version gets 412 instead of silently overwriting a colleague's change.
for answer in sid-16:3 sid-17:2 sid-32:2 sid-33:3 sid-35:2; do
  VERSION=$(curl -sf -X PUT "$API/intake/v1/cycles/2026/innovations/$ID/answers/${answer%%:*}" \
    -H "Authorization: Bearer $OPERATOR" -H "If-Match: $VERSION" -H 'Content-Type: application/json' \
    -d "{\"level\": ${answer##*:}}" | json '["version"]')
done

# 4. It uploads evidence: the file's bytes as the body (checked by type and size, stored
#    with its SHA-256), or a link for the video indicator. The innovation's upload grant
#    (from step 2) lets the upload in at once, before the evidence service has heard of it.
printf '%%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n2 0 obj << /Type /Pages /Kids [3 0 R] /Count 1 >> endobj\n3 0 obj << /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >> endobj\ntrailer << /Root 1 0 R >>\nstartxref\n0\n%%%%EOF\n' > /tmp/inovasi-sk.pdf
upload() {  # indicator, then curl's body arguments
  local indicator=$1; shift
  curl -sf -X POST "$API/evidence/v1/evidence?cycle=2026&innovation=$ID&indicator=$indicator" \
    -H "Authorization: Bearer $OPERATOR" -H "X-Upload-Grant: $GRANT" "$@" | json '["id"]'
}
E16=$(upload sid-16 --data-binary @/tmp/inovasi-sk.pdf)
E17=$(upload sid-17 --data-binary @/tmp/inovasi-sk.pdf)
E32=$(upload sid-32 --data-binary @/tmp/inovasi-sk.pdf)
E33=$(upload sid-33 --data-binary @/tmp/inovasi-sk.pdf)
E35=$(upload sid-35 -H 'Content-Type: application/json' -d '{"link": "https://www.youtube.com/watch?v=posyandu"}')

# 5. It submits: eligibility is checked (window open, application date, rancang bangun of
#    300 words or more, mandatory indicators answered), every failed rule named in a 422.
curl -sf -X POST "$API/intake/v1/cycles/2026/innovations/$ID/submit" \
  -H "Authorization: Bearer $OPERATOR" -H "If-Match: $VERSION" | json '["status"]'

# 6. A verifier accepts four items and rejects one, with a reason.
for evidence in $E16 $E17 $E32 $E35; do
  curl -sf -X POST "$API/evidence/v1/evidence/$evidence/decision" -H "Authorization: Bearer $VERIFIER" \
    -H 'Content-Type: application/json' -d '{"decision": "accepted"}' >/dev/null
done
curl -sf -X POST "$API/evidence/v1/evidence/$E33/decision" -H "Authorization: Bearer $VERIFIER" \
  -H 'Content-Type: application/json' -d '{"decision": "rejected", "reason": "Daftar penerima manfaat tidak ditandatangani"}' >/dev/null

# 7. Anyone reads the region's score: claimed, provisional and validated IID, category, ranks.
sleep 1
curl -sf "$API/scoring/v1/cycles/2026/regions/$REGION/score" -H "Authorization: Bearer $VIEWER" \
  | json '["validated"]'
# A dashboard follows the live feed (Server-Sent Events; reconnect with Last-Event-ID):
#   curl -N "$API/scoring/v1/cycles/2026/stream?region=$REGION" -H "Authorization: Bearer $VIEWER"
