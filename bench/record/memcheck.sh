#!/bin/bash
# Serves the county database, signs in as the demo doctor, opens 200 residents' 360 pages
# and some searches, then prints the server's resident memory.
set -u
BIN=${BIN:-target/release/ygt}
DB=${1:-sqlite:///tmp/county500k.db}
PORT=18090
$BIN serve --database "$DB" --listen 127.0.0.1:$PORT >/tmp/memcheck-serve.log 2>&1 &
PID=$!
for i in $(seq 1 60); do curl -sf http://127.0.0.1:$PORT/healthz >/dev/null && break; sleep 1; done
J=$(mktemp)
curl -s -c $J -b $J http://127.0.0.1:$PORT/login > /tmp/login.html
csrf=$(grep -o 'name="login_csrf" value="[^"]*"' /tmp/login.html | sed 's/.*value="//;s/"$//')
code=$(curl -s -c $J -b $J --data-urlencode "login_csrf=$csrf" --data-urlencode "next=/" --data-urlencode "username=doctor" --data-urlencode "password=Yunxi@2026" -o /dev/null -w "%{http_code}" http://127.0.0.1:$PORT/login)
echo "login: $code"
ids=""
for q in 王 李 张 刘 陈 杨 赵 黄 周 吴; do
  ids="$ids $(curl -s -b $J "http://127.0.0.1:$PORT/residents?q=$(python3 -c "import urllib.parse;print(urllib.parse.quote('$q'))")" | grep -o '/residents/[0-9a-f-]\{36\}' | sort -u | head -20)"
done
n=0; ok=0
for path in $ids; do
  c=$(curl -s -b $J -o /dev/null -w "%{http_code}" "http://127.0.0.1:$PORT$path/record")
  n=$((n+1)); [ "$c" = "200" ] && ok=$((ok+1))
done
echo "record pages: $ok of $n returned 200"
grep -E "VmHWM|VmRSS" /proc/$PID/status
kill -TERM $PID; wait $PID 2>/dev/null
rm -f $J
