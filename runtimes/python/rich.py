"""Notebook-grade results of sandbox-executor's session interpreter (session.py).

An object becomes a MIME bundle as IPython's display formatter makes it: its
_repr_mimebundle_ first, then each _repr_<type>_ method for the types not given yet, and
text/plain from repr(). Images (PNG, JPEG) and PDF travel as base64 text, JSON as a JSON
value. A matplotlib figure is drawn as a PNG.
"""
import base64
import json
import sys

MAX_TEXT_CHARS = 64 * 1024

# The _repr_<name>_ methods a notebook knows, in IPython's order, with their MIME types.
REPR_METHODS = (
    ("text/html", "_repr_html_"),
    ("text/markdown", "_repr_markdown_"),
    ("image/svg+xml", "_repr_svg_"),
    ("image/png", "_repr_png_"),
    ("application/pdf", "_repr_pdf_"),
    ("image/jpeg", "_repr_jpeg_"),
    ("text/latex", "_repr_latex_"),
    ("application/json", "_repr_json_"),
    ("application/javascript", "_repr_javascript_"),
)
BINARY_TYPES = ("image/png", "image/jpeg", "application/pdf")


def _warn(what, exc):
    detail = " ".join(str(exc).split())
    sys.stderr.write(f"sandbox-executor: {what}: {type(exc).__name__}: {detail}\n")


def _method(obj, name):
    """The bound method `name` of an instance (a class's own functions are not its reprs)."""
    if isinstance(obj, type):
        return None
    try:
        method = getattr(obj, name, None)
    except Exception:
        return None
    return method if callable(method) else None


def _normalise(mime, data):
    """The value of one representation as the bundle holds it, or None when it has none."""
    if isinstance(data, tuple) and len(data) == 2:  # (data, metadata), as IPython allows
        data = data[0]
    if data is None:
        return None
    if mime in BINARY_TYPES or mime.startswith("image/") and mime != "image/svg+xml":
        if isinstance(data, (bytes, bytearray, memoryview)):
            return base64.b64encode(bytes(data)).decode("ascii")
        return str(data)  # already base64, as IPython accepts it
    if mime == "application/json" or mime.endswith("+json"):
        if isinstance(data, (str, bytes)):
            data = json.loads(data)
        json.dumps(data, allow_nan=False)  # must be JSON: raises otherwise
        return data
    if isinstance(data, bytes):
        return data.decode("utf-8", "replace")
    return str(data)


def text_of(obj):
    """repr(obj), capped; what a value shows as text/plain."""
    try:
        text = repr(obj)
    except Exception as e:
        text = f"<repr() failed: {type(e).__name__}: {e}>"
    if len(text) > MAX_TEXT_CHARS:
        text = text[:MAX_TEXT_CHARS] + "..."
    return text


def _mimebundle(obj, bundle):
    method = _method(obj, "_repr_mimebundle_")
    if method is None:
        return
    try:
        given = method(include=None, exclude=None)
    except TypeError:
        given = method()
    if isinstance(given, tuple):
        given = given[0]
    for mime, data in (given or {}).items():
        value = _normalise(mime, data)
        if value is not None:
            bundle[mime] = value


def _figure_png(obj):
    """The PNG of a matplotlib figure (not imported here: only an object of its class has it)."""
    figure = sys.modules.get("matplotlib.figure")
    if figure is None or not isinstance(obj, figure.Figure):
        return None
    import io

    buf = io.BytesIO()
    obj.savefig(buf, format="png", bbox_inches="tight")
    return buf.getvalue()


def bundle_of(obj, plain=None):
    """The MIME bundle of `obj`: what each of its representations gives (`plain`: its repr,
    when already made)."""
    bundle = {}
    try:
        _mimebundle(obj, bundle)
    except Exception as e:
        _warn(f"_repr_mimebundle_ of {type(obj).__name__} failed", e)
    for mime, name in REPR_METHODS:
        if mime in bundle:
            continue
        method = _method(obj, name)
        if method is None:
            continue
        try:
            value = _normalise(mime, method())
        except Exception as e:
            _warn(f"{name} of {type(obj).__name__} failed", e)
            continue
        if value is not None:
            bundle[mime] = value
    if "image/png" not in bundle:
        try:
            png = _figure_png(obj)
        except Exception as e:
            _warn("cannot draw the figure", e)
            png = None
        if png is not None:
            bundle["image/png"] = base64.b64encode(png).decode("ascii")
    if "text/plain" not in bundle:
        bundle["text/plain"] = plain if plain is not None else text_of(obj)
    return bundle


def figure_bundle(fig, png):
    """The bundle of a figure shown (plt.show(), or left open at the end of a cell)."""
    return {"text/plain": text_of(fig), "image/png": base64.b64encode(png).decode("ascii")}
