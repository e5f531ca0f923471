"""Serve every HTTP function of main.py from one process, at /<name>: the local stack's "Cloud Functions".

    python -m functions.local_server --port PORT

Each function gets its own functions-framework app, exactly as Cloud Functions would load it; a
small WSGI dispatcher picks the app by the first path segment.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import functions_framework
from werkzeug.serving import make_server

MAIN = Path(__file__).resolve().parent.parent / "main.py"


class Dispatcher:
    def __init__(self, names: tuple[str, ...]):
        self.apps = {
            name: functions_framework.create_app(target=name, source=str(MAIN)) for name in names
        }

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        path = environ.get("PATH_INFO", "/")
        name, _, rest = path.lstrip("/").partition("/")
        app = self.apps.get(name)
        if app is None:
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            return [f"no function {name!r}; serving: {', '.join(self.apps)}\n".encode()]
        environ = {**environ, "SCRIPT_NAME": f"/{name}", "PATH_INFO": "/" + rest}
        return app(environ, start_response)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    import main as entry_points  # the module functions-framework loads in production

    server = make_server(
        "127.0.0.1", args.port, Dispatcher(entry_points.HTTP_FUNCTIONS), threaded=True
    )
    print(f"ready http://127.0.0.1:{args.port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
