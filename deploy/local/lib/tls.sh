# shellcheck shell=bash
# TLS for the local stack: a private CA and one server certificate for 127.0.0.1/localhost, made once with
# openssl. Kafka's SASL_SSL listener and PostgreSQL serve it; clients verify it with .local/tls/ca.crt.

TLS_DIR="$LOCAL/tls"
TLS_CA="$TLS_DIR/ca.crt"
TLS_CERT="$TLS_DIR/server.crt"
TLS_KEY="$TLS_DIR/server.key"
# Kafka's PEM keystore: the unencrypted PKCS#8 key followed by the certificate chain, in one file.
TLS_KAFKA_KEYSTORE="$TLS_DIR/kafka-keystore.pem"

# Idempotent: nothing is rewritten while the files exist, so clients keep trusting the same CA.
tls_ensure() {
    [[ -s $TLS_CA && -s $TLS_CERT && -s $TLS_KEY && -s $TLS_KAFKA_KEYSTORE ]] && return 0
    command -v openssl >/dev/null || die "openssl is not installed; install it (Debian: apt-get install openssl) so the stack can make its TLS certificates."
    local tmp
    tmp=$(mktemp -d)
    mkdir -p "$TLS_DIR"
    (
        set -e
        cd "$tmp"
        umask 077
        openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out ca.key
        openssl req -x509 -new -key ca.key -sha256 -days 3650 -subj "/CN=Karmayogi local stack CA" \
            -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" -out ca.crt
        openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out server.key
        openssl req -new -key server.key -subj "/CN=localhost" -out server.csr
        printf '%s\n' "basicConstraints=critical,CA:FALSE" "keyUsage=critical,digitalSignature" \
            "extendedKeyUsage=serverAuth" "subjectAltName=IP:127.0.0.1,DNS:localhost" \
            "subjectKeyIdentifier=hash" "authorityKeyIdentifier=keyid" >server.ext
        openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -sha256 -days 825 \
            -extfile server.ext -out server.crt
        cat server.key server.crt >kafka-keystore.pem
        chmod 644 ca.crt server.crt
        mv ca.key ca.crt server.key server.crt kafka-keystore.pem "$TLS_DIR/"
    ) >"$LOGS/tls.log" 2>&1 || {
        rm -rf "$tmp"
        die "openssl could not make the local TLS certificates (see .local/logs/tls.log)."
    }
    rm -rf "$tmp"
    say "tls: made a local CA and a certificate for 127.0.0.1/localhost in .local/tls/ (trust .local/tls/ca.crt)."
}
