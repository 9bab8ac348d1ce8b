#!/usr/bin/env bash
# The TLS files of deploy/compose/three-brokers.yml, made with openssl into ./secrets/:
#   ca.pem            the CA the services trust (COMPLAINTS_KAFKA_SSL_CAFILE)
#   kafkaN.pem        broker N's key (PKCS#8) and certificate, for the names kafkaN and localhost
# A real deployment uses its own CA; this one is for trying the example. Run once:
#   deploy/compose/make-certs.sh
set -euo pipefail
cd "$(dirname "$0")"
mkdir -p secrets
cd secrets
days=${DAYS:-825}
if [[ ! -f ca.key ]]; then
  openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:3072 -out ca.key
  openssl req -x509 -new -key ca.key -sha256 -days "$days" -subj "/CN=complaints-kafka-ca" -out ca.pem
fi
for n in 1 2 3; do
  openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "kafka$n.key"
  openssl req -new -key "kafka$n.key" -subj "/CN=kafka$n" -out "kafka$n.csr"
  printf 'subjectAltName=DNS:kafka%s,DNS:localhost\n' "$n" > "kafka$n.ext"
  openssl x509 -req -in "kafka$n.csr" -CA ca.pem -CAkey ca.key -CAcreateserial -days "$days" \
    -sha256 -extfile "kafka$n.ext" -out "kafka$n.crt"
  cat "kafka$n.key" "kafka$n.crt" > "kafka$n.pem"
  rm -f "kafka$n.csr" "kafka$n.ext" "kafka$n.key" "kafka$n.crt"
done
# The brokers run as uid 1000 (appuser) in apache/kafka, the services as 10001: readable by them.
# On a shared host, chown the kafkaN.pem files to 1000 and chmod 0600 instead.
chmod 0644 ca.pem kafka1.pem kafka2.pem kafka3.pem
chmod 0600 ca.key
echo "made $(pwd)/{ca.pem,kafka1.pem,kafka2.pem,kafka3.pem}"
