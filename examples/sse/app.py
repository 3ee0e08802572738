"""A streaming (Server-Sent Events) service for Eas.Node (docs/traffic.md#streaming).

GET or POST /stream?n=N&gap=S sends N events ("data: event i") S seconds apart, flushing each one, so a
caller sees the first event long before the stream ends. Needs python3-flask (Debian).
"""
import os
import time

from flask import Flask, Response, request

app = Flask(__name__)


@app.route("/stream", methods=["GET", "POST"])
def stream():
    n = int(request.args.get("n", "5"))
    gap = float(request.args.get("gap", "1"))

    def events():
        for i in range(1, n + 1):
            yield f"data: event {i}\n\n"
            if i < n:
                time.sleep(gap)

    return Response(events(), mimetype="text/event-stream", headers={"Cache-Control": "no-cache"})


@app.route("/")
def index():
    return "sse demo: GET /stream?n=5&gap=1\n"


if __name__ == "__main__":
    app.run(host="0.0.0.0", port=int(os.environ.get("PORT", "8000")), threaded=True)
