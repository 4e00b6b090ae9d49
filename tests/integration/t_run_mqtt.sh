#!/bin/bash
# t_run_mqtt.sh - `proxystack run` for the IoT case: mosquitto_sub and
# mosquitto_pub (MQTT over TLS, verifying the broker's certificate) reach
# a local mosquitto broker through squid by a name only squid resolves;
# the message published arrives at the subscriber.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/proxies.sh"
. "$(dirname "$0")/run_lib.sh"

run_setup
MQTT_PORT=$(free_port)
cat >"$TMP/mosquitto.conf" <<EOC
user $(id -un)
per_listener_settings true
listener $MQTT_PORT 127.0.0.1
allow_anonymous true
cafile $RUN_CA
certfile $RUN_CERT
keyfile $RUN_KEY
persistence false
log_dest stderr
EOC
start_bg mosquitto mosquitto -c "$TMP/mosquitto.conf"
wait_port "$MQTT_PORT"

TLS=(--cafile "$RUN_CA" -h "$RUN_HOST" -p "$MQTT_PORT")
squid_log_mark sq
# The subscriber waits for one message (-C 1), at most 25 s (-W).
"${PS_RUN[@]}" mosquitto_sub "${TLS[@]}" -t ps/test -C 1 -W 25 \
	>"$TMP/sub.out" 2>"$TMP/sub.err" &
SUB_PID=$!
echo "$SUB_PID 2" >>"$PS_PIDS_FILE"
# Publish until the subscriber is there to receive (retained: no race).
expect_exit 0 "mosquitto_pub over TLS through squid" -- \
	"${PS_RUN[@]}" mosquitto_pub "${TLS[@]}" -t ps/test -r \
	-m "hello broker"
SUB_RC=0
wait "$SUB_PID" || SUB_RC=$?
expect_eq "$SUB_RC" 0 "mosquitto_sub over TLS through squid"
expect_grep "^hello broker$" "$TMP/sub.out" "mosquitto_sub: the message arrived"
[ "$SUB_RC" = 0 ] || show_file "mosquitto_sub stderr" "$TMP/sub.err"
expect_connect_logged "$MQTT_PORT" "mqtt: squid tunnelled CONNECT $RUN_HOST:$MQTT_PORT"
TUNNELS=$(squid_log_lines sq | grep -c "TCP_TUNNEL/200 CONNECT ${RUN_HOST//./\\.}:$MQTT_PORT alice")
expect_eq "$TUNNELS" 2 "mqtt: both clients went through squid"
