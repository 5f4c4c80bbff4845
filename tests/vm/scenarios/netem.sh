# Transfers under an impaired network (scripts/soak.sh netem): tc netem on the guest's
# loopback, so every packet of both directions is delayed 2 ms ± 1 ms, and 1 % lost, 1 %
# reordered, 0.5 % duplicated. 256 MiB through connect/listen (plain and TLS) and through
# http-get from nginx (HTTP and HTTPS); the test compares SHA-256 sums and exit codes.
# Needs the files nicksock, tc and nginx (gpio-vm.sh run -f …) and NICKSOCK_VM_MEM ≥ 1536;
# tc by its path: busybox sh prefers its own applet of that name.
NETEM="delay 2ms 1ms loss 1% duplicate 0.5% reorder 1%"
if ! /test/tc qdisc add dev lo root netem $NETEM 2> /tmp/tc.err; then
  report netem-failed "$(cat /tmp/tc.err)"
  exit 1
fi
report netem "$(/test/tc qdisc show dev lo)"
secs() { cut -d' ' -f1 /proc/uptime; }
# until_line FILE TEXT: waits (at most 10 s) for TEXT in FILE.
until_line() {
  local tries=0
  while ! grep -q "$2" "$1" 2> /dev/null && [ "$tries" -lt 200 ]; do
    tries=$((tries + 1))
    sleep 0.05
  done
}
head -c 268435456 /dev/urandom > /tmp/256m
report sent "$(sha256sum < /tmp/256m | cut -d' ' -f1)"
mkdir -p /tmp/certs
nicksock gen-cert --out /tmp/certs 127.0.0.1 > /dev/null 2> /tmp/certs.err || report gen-cert-failed "$(cat /tmp/certs.err)"
mkfifo /tmp/received
for mode in plain tls; do
  L="" C=""
  if [ "$mode" = tls ]; then
    L="--tls --cert /tmp/certs/cert.pem --key /tmp/certs/cert-key.pem"
    C="--tls --cacert /tmp/certs/cert.pem"
  fi
  sha256sum < /tmp/received > /tmp/got.sum &
  SUMMER=$!
  # shellcheck disable=SC2086
  nicksock listen $L 127.0.0.1 9000 < /dev/null > /tmp/received 2> /tmp/l.err &
  LISTENER=$!
  until_line /tmp/l.err "listening on"
  t0=$(secs)
  # shellcheck disable=SC2086
  nicksock connect $C 127.0.0.1 9000 < /tmp/256m > /dev/null 2> /tmp/c.err
  cc=$?
  wait "$LISTENER"
  lc=$?
  wait "$SUMMER"
  t1=$(secs)
  report "$mode" "exits $cc/$lc sum $(cut -d' ' -f1 /tmp/got.sum) from $t0 to $t1 $(tail -n 1 /tmp/c.err)"
done
mkdir -p /tmp/nginx/www /var/log/nginx /etc
ln /tmp/256m /tmp/nginx/www/256m
echo "root:x:0:0:root:/tmp:/bin/sh" > /etc/passwd
echo "root:x:0:" > /etc/group
cat > /tmp/nginx/nginx.conf << 'CONF'
daemon off; master_process off; user root root; pid /tmp/nginx/nginx.pid;
error_log /tmp/nginx/error.log;
events { worker_connections 64; }
http {
  access_log off; sendfile on;
  client_body_temp_path /tmp/nginx/b; proxy_temp_path /tmp/nginx/p;
  fastcgi_temp_path /tmp/nginx/f; uwsgi_temp_path /tmp/nginx/u; scgi_temp_path /tmp/nginx/s;
  server {
    listen 127.0.0.1:8080; listen 127.0.0.1:8443 ssl; root /tmp/nginx/www;
    ssl_certificate /tmp/certs/cert.pem; ssl_certificate_key /tmp/certs/cert-key.pem;
  }
}
CONF
nginx -p /tmp/nginx -e /tmp/nginx/error.log -c /tmp/nginx/nginx.conf < /dev/null > /dev/null 2>&1 &
NGINX=$!
tries=0
while [ ! -s /tmp/nginx/nginx.pid ] && [ "$tries" -lt 200 ]; do
  tries=$((tries + 1))
  sleep 0.05
done
[ -s /tmp/nginx/nginx.pid ] || report nginx-failed "$(cat /tmp/nginx/error.log)"
for url in http://127.0.0.1:8080/256m https://127.0.0.1:8443/256m; do
  t0=$(secs)
  nicksock http-get -s --cacert /tmp/certs/cert.pem -o /tmp/dl "$url" 2> /tmp/dl.err
  rc=$?
  t1=$(secs)
  key=http
  case $url in https*) key=https ;; esac
  report "$key" "exits $rc sum $(sha256sum < /tmp/dl | cut -d' ' -f1) from $t0 to $t1 $(tail -n 1 /tmp/dl.err)"
  rm -f /tmp/dl
done
kill "$NGINX"
report stats "$(/test/tc -s qdisc show dev lo | tr '\n' ' ')"
