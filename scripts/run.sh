#!/bin/sh
# SPDX-License-Identifier: ISC
# `make run`: a default config and state dir under the checkout, a
# certificate-free loopback setup, then `postern serve` in the foreground.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
run="$top/run"
conf="$run/postern.conf"
mkdir -p "$run"
tls="$run/tls"
if [ ! -f "$tls/postern.crt" ]; then
    # A self-signed certificate for the loopback listeners. Replace it with a
    # real one (and point the tls block at it) for anything but a trial.
    mkdir -p "$tls"
    chmod 700 "$tls"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 365 \
        -subj "/CN=localhost" -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
        -keyout "$tls/postern.key" -out "$tls/postern.crt" 2>/dev/null
    chmod 600 "$tls/postern.key"
    echo "postern: generated a self-signed TLS certificate in $tls (for trials only)"
fi
if [ ! -f "$conf" ]; then
    cat > "$conf" <<CONF
# Written by 'make run'. Edit freely; 'make run' keeps an existing file.
hostname localhost
state_dir $run/state
tls {
    cert $tls/postern.crt
    key $tls/postern.key
}
listen 127.0.0.1:2525 {
    role mx
    tls starttls
}
listen 127.0.0.1:2587 {
    role submission
    tls starttls-required
}
listen 127.0.0.1:2465 {
    role submission
    tls implicit
}
# Mail for example.test is relayed to a local SMTP server on port 10099
# (start one with: smtp-sink -u nobody 127.0.0.1:10099 100).
domain example.test {
    deliver smtp://127.0.0.1:10099
}
# Submission needs AUTH: add an account with 'postern user add'.
CONF
    echo "postern: wrote $conf"
fi
"$top/build/postern" config check -c "$conf"
cat <<MSG

postern is starting in the foreground (Ctrl-C stops it).
  MX listener:          127.0.0.1:2525 (STARTTLS offered)
  submission listeners: 127.0.0.1:2587 (STARTTLS required), 127.0.0.1:2465 (implicit TLS)
                        (TLS, then AUTH; add an account first, see below)
  TLS certificate:      $tls/postern.crt (self-signed, generated for this trial)
  config:               $conf
  state:                $run/state

Send a test message (in another terminal), as if from the internet: SPF, DKIM
and DMARC check it (a sender domain under .test has no records, so it passes;
a real domain that forbids this machine in SPF is refused with 550 5.7.23):
  swaks --server 127.0.0.1:2525 --from friend@sender.test --to someone@example.test
Make an account (password prompted; at least 12 characters, not guessable),
then submit as it:
  $top/build/postern user add you@example.test -c $conf
  swaks --server 127.0.0.1:2587 --tls --auth PLAIN --auth-user you@example.test \\
        --from you@example.test --to someone@example.test
  swaks --server 127.0.0.1:2465 --tlsc --auth LOGIN --auth-user you@example.test \\
        --from you@example.test --to someone@example.test
The audit log of logins and account changes:
  $top/build/postern audit tail -c $conf
The guard is on: the MX listener greets a new client after 2 s (once a day),
and 5 wrong passwords from one address in 10 minutes ban it for 10 minutes
(an address where an account logged in before is never banned). See and
lift bans with:
  $top/build/postern ban list -c $conf
  $top/build/postern ban del 127.0.0.1 -c $conf
Look at the queue:
  $top/build/postern queue list -c $conf
Messages for example.test go to 127.0.0.1:10099; until something listens there
they stay queued and are retried. Start a sink to receive them:
  smtp-sink -u nobody 127.0.0.1:10099 100

MSG
exec "$top/build/postern" serve -c "$conf"
