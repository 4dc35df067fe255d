#!/usr/bin/env bash
# certs.sh DIR [NAME]: a throw-away CA (DIR/ca.crt) and a serving certificate it signed for
# 127.0.0.1 and localhost (DIR/server.crt, DIR/server.key). The CA's key is deleted once the serving
# certificate is signed: nothing else can ever be signed by it. Files 0600 in a 0700 DIR.
# up.sh uses it for the kube-apiserver; tests/cluster/test_proxy_tls.py for its fake upstreams.
set -euo pipefail
umask 077
dir=$1
name=${2:-k8sretry}
mkdir -p "$dir" && chmod 700 "$dir"
cd "$dir"
openssl req -x509 -newkey rsa:2048 -nodes -days 7 -subj "/CN=$name throw-away CA" \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
  -keyout ca.key -out ca.crt 2>/dev/null
openssl req -new -newkey rsa:2048 -nodes -subj "/CN=$name" -keyout server.key -out server.csr 2>/dev/null
# SKI/AKI too: Python 3.13's default context (VERIFY_X509_STRICT) rejects a leaf without an AKI.
openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -set_serial "0x$(openssl rand -hex 16)" \
  -days 7 -out server.crt -extfile <(printf '%s\n' \
    "subjectAltName=IP:127.0.0.1,DNS:localhost" \
    "basicConstraints=critical,CA:FALSE" \
    "keyUsage=critical,digitalSignature,keyEncipherment" \
    "extendedKeyUsage=serverAuth" \
    "subjectKeyIdentifier=hash" \
    "authorityKeyIdentifier=keyid,issuer") 2>/dev/null
rm -f server.csr ca.key
