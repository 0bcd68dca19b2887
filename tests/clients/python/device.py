"""A hub as a third-party MQTT client (paho-mqtt) sees hubgate.

Connects with the hub's serial and device credential, subscribes to its
desired state and its errors, and re-publishes its full state on every
connect, as a device does. Prints one JSON line per event on stdout:
  {"event": "connected"} | {"event": "refused", "reason": "..."}
  {"event": "subscribed", "codes": [...]}
  {"event": "desired", "payload": {...}} | {"event": "error", "payload": {...}}
  {"event": "published", "topic": "...", "mid": N}
  {"event": "disconnected", "reason": "..."}
and reads one JSON command per line on stdin:
  {"publish": "<topic>", "payload": <json or string>}
  {"state": {...}}           (a report on its own reported topic)
  {"subscribe": "<filter>"}
  {"quit": true}

Usage: device.py HOST PORT SERIAL PASSWORD [--protocol 3|5] [--tls CA_FILE]
"""

import json
import sys
import threading

import paho.mqtt.client as mqtt


def say(event, **fields):
    print(json.dumps({"event": event, **fields}), flush=True)


def main():
    host, port, serial, password = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
    protocol = mqtt.MQTTv5 if "--protocol" in sys.argv and sys.argv[sys.argv.index("--protocol") + 1] == "5" else mqtt.MQTTv311
    base = f"hubs/{serial}"
    full_state = {"connected": [1, 0, 0, 0], "active": 1, "mtrmode": False, "mtrport": 1}
    lock = threading.Lock()

    client = mqtt.Client(
        mqtt.CallbackAPIVersion.VERSION2, client_id=f"device-{serial}", protocol=protocol
    )
    client.username_pw_set(serial, password)
    if "--tls" in sys.argv:
        client.tls_set(ca_certs=sys.argv[sys.argv.index("--tls") + 1])
    client.reconnect_delay_set(min_delay=1, max_delay=1)

    def on_connect(client, userdata, flags, reason_code, properties):
        if reason_code.is_failure:
            say("refused", reason=str(reason_code))
            return
        say("connected")
        client.subscribe([(f"{base}/state/desired", 1), (f"{base}/errors", 1)])
        with lock:
            client.publish(f"{base}/state/reported", json.dumps({"state": full_state}), qos=1)

    def on_subscribe(client, userdata, mid, reason_codes, properties):
        say("subscribed", codes=[int(getattr(c, "value", c)) for c in reason_codes])

    def on_message(client, userdata, message):
        try:
            payload = json.loads(message.payload)
        except ValueError:
            payload = message.payload.decode(errors="replace")
        if message.topic.endswith("/state/desired"):
            say("desired", payload=payload, retain=bool(message.retain))
        elif message.topic.endswith("/errors"):
            say("error", payload=payload)
        else:
            say("message", topic=message.topic, payload=payload)

    def on_disconnect(client, userdata, flags, reason_code, properties):
        say("disconnected", reason=str(reason_code))

    def on_publish(client, userdata, mid, reason_code, properties):
        say("published", mid=mid, reason=str(reason_code))

    client.on_connect = on_connect
    client.on_subscribe = on_subscribe
    client.on_message = on_message
    client.on_disconnect = on_disconnect
    client.on_publish = on_publish
    client.connect_async(host, port, keepalive=5)
    client.loop_start()

    for line in sys.stdin:
        command = json.loads(line)
        if command.get("quit"):
            break
        if "state" in command:
            with lock:
                full_state.update(command["state"])
            client.publish(f"{base}/state/reported", json.dumps({"state": command["state"]}), qos=1)
        elif "publish" in command:
            payload = command["payload"]
            body = payload if isinstance(payload, str) else json.dumps(payload)
            client.publish(command["publish"], body, qos=1)
        elif "subscribe" in command:
            client.subscribe(command["subscribe"], qos=1)
    client.disconnect()
    client.loop_stop()


if __name__ == "__main__":
    main()
