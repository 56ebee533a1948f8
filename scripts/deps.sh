#!/bin/sh
# SPDX-License-Identifier: ISC
# Install what postern needs to build, run and test, from Debian's archive.
# Idempotent: does nothing when everything is present. Needs root to install.
set -eu

BUILD="meson ninja-build pkg-config gcc libc6-dev libevent-dev libunbound-dev libssl-dev openssl libsqlite3-dev libsodium-dev libcrypt-dev libjansson-dev libzxcvbn-dev libqrencode-dev libhiredis-dev libpsl-dev publicsuffix zlib1g-dev libseccomp-dev"
TEST="libcmocka-dev clang systemd libclang-rt-14-dev python3 python3-aiosmtpd swaks postfix nmap knot knot-dnsutils testssl.sh sslscan libnet-ssleay-perl libio-socket-ssl-perl gsasl oathtool dovecot-core fail2ban redis-server nftables iproute2 python3-dkim python3-nacl opendkim opendkim-tools libxml2-utils"

want="$BUILD"
case "${1:-build}" in
    build) ;;
    test|all) want="$BUILD $TEST" ;;
    *) echo "usage: $0 [build|test]" >&2; exit 2 ;;
esac

missing=""
for p in $want; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $p"
    fi
done

if [ -n "$missing" ]; then
    if [ "$(id -u)" != 0 ]; then
        echo "postern: missing packages:$missing" >&2
        echo "postern: run as root, or: sudo apt-get install$missing" >&2
        exit 1
    fi
    echo "postern: installing:$missing"
    # postfix is only wanted for smtp-sink/smtp-source: no configuration, no service.
    # fail2ban is only wanted for fail2ban-regex and fail2ban-client (contrib/fail2ban);
    # note that Debian starts its service, with the sshd jail on.
    # systemd is only wanted for systemd-analyze and systemd-sysusers, which check
    # contrib/systemd/ (test_systemd); nothing is started.
    # redis-server is only wanted for test_redis, which starts its own on a free
    # loopback port; Debian also starts its service on 127.0.0.1:6379.
    echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q >/dev/null || apt-get update -q
    # shellcheck disable=SC2086
    apt-get install -y -q --no-install-recommends $missing
fi

# The unprivileged user the smtp and queue processes run as when started as root.
if [ "$(id -u)" = 0 ] && ! getent passwd postern >/dev/null; then
    echo "postern: creating system user 'postern'"
    useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin postern
fi
exit 0
