"""Reading COCO-format annotation files with errors that name the file.

A truncated download, an empty file or a json of another kind would otherwise surface as a bare
``JSONDecodeError`` / ``TypeError`` deep inside pycocotools, naming neither the file nor the fix.
Standard library only.
"""
import json
import os

__all__ = ["AnnotationFileError", "read_coco_json", "check_coco_json", "FULL_CHECK_BYTES"]

# files up to this size are parsed in full by check_coco_json; bigger ones (COCO train is about
# 450 MB) only have their start checked, and are parsed once, by the loader that needs them
FULL_CHECK_BYTES = 64 << 20
_REQUIRED = ("images", "annotations", "categories")


class AnnotationFileError(ValueError):
    """A COCO annotation file that is missing, empty, not json or not COCO-shaped."""


def _fix():
    return "re-create or re-download it (COCO instances_*.json: images, annotations, categories)"


def _check_shape(data, path):
    if not isinstance(data, dict):
        raise AnnotationFileError("annotation file {!r} holds a json {}, not a COCO mapping; "
                                  "{}".format(path, type(data).__name__, _fix()))
    missing = [k for k in _REQUIRED if not isinstance(data.get(k), list)]
    if missing:
        raise AnnotationFileError("annotation file {!r} lacks the COCO list(s) {}; {}".format(
            path, ", ".join(missing), _fix()))
    return data


def read_coco_json(path):
    """Parse COCO annotation file ``path``; ``AnnotationFileError`` naming it if unusable."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError("annotation file {!r} does not exist".format(path))
    if os.path.getsize(path) == 0:
        raise AnnotationFileError("annotation file {!r} is empty (0 bytes): an interrupted copy "
                                  "or download; {}".format(path, _fix()))
    with open(path, "rb") as f:
        try:
            data = json.loads(f.read().decode("utf-8"))
        except (ValueError, UnicodeDecodeError) as exc:
            raise AnnotationFileError("annotation file {!r} is not valid json ({}): truncated or "
                                      "not an annotation file; {}".format(path, exc, _fix())
                                      ) from None
    return _check_shape(data, path)


def check_coco_json(path, image_root=None):
    """Check ``path`` before a run relies on it: parsed in full up to ``FULL_CHECK_BYTES``,
    else its first bytes must open a json object. When parsed and ``image_root`` is given, every
    image it names must be a file there. Returns ``path``."""
    path = os.fspath(path)
    if os.path.isfile(path) and os.path.getsize(path) > FULL_CHECK_BYTES:
        with open(path, "rb") as f:
            head = f.read(256).lstrip()
        if not head.startswith(b"{"):
            raise AnnotationFileError("annotation file {!r} does not start a json object ({!r}"
                                      "...); {}".format(path, head[:20], _fix()))
        return path
    data = read_coco_json(path)
    if image_root is not None:
        names = [im.get("file_name") for im in data["images"] if isinstance(im, dict)]
        missing = [n for n in names if not n or not os.path.isfile(os.path.join(image_root, n))]
        if missing:
            raise AnnotationFileError(
                "{} of the {} images annotation file {!r} names are not in {!r} (e.g. {}): the "
                "json and the image folder do not belong together; copy the images or give the "
                "matching folder".format(len(missing), len(names), path, image_root,
                                         ", ".join(repr(m) for m in missing[:3])))
    return path
