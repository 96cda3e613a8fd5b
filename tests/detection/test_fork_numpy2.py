"""The fork code paths that docker/patches/detectron2/0002-0004 touch, run on the installed numpy,
Pillow and black (numpy 2 / Pillow 12 / black 26 in the current and cpu flavours; the legacy image's
2021 pins run them unpatched). Without 0002 detectron2 does not import on Pillow >= 10
(Image.LINEAR); without 0003 the class histogram and the semantic-segmentation evaluator raise
AttributeError on numpy >= 1.24 (np.int, np.float). The mask tests cover the np.bool lines, which
numpy 2 accepts again, and the PIL round trip of paste_mask_in_image_old."""
import re

import numpy as np
import pytest
import torch

pytestmark = pytest.mark.forks
REASON = "needs the pinned forks: run inside the image (make test) or after make install-forks"


def _version(text):
    return tuple(int(p) for p in re.findall(r"\d+", text)[:2])


@pytest.fixture(scope="module")
def d2():
    return pytest.importorskip("detectron2", reason=REASON)


def test_extent_transform_default_is_bilinear_and_resamples(d2):
    from detectron2.data.transforms import ExtentTransform
    from PIL import Image
    t = ExtentTransform(src_rect=(0, 0, 8, 8), output_size=(4, 4))
    assert t.interp == Image.BILINEAR
    img = np.tile(np.arange(8, dtype=np.uint8)[None, :, None] * 30, (8, 1, 3))
    out = t.apply_image(img)
    assert out.shape == (4, 4, 3) and out.dtype == np.uint8
    assert out[0, 0, 0] < out[0, -1, 0]  # the horizontal ramp survives resampling


@pytest.mark.parametrize("dtype", [np.uint8, np.float32])
def test_resize_transform_on_current_pillow(d2, dtype):
    from detectron2.data.transforms import ResizeTransform
    from PIL import Image
    img = np.zeros((6, 10, 3), dtype=dtype)
    img[:, 5:] = 200
    out = ResizeTransform(6, 10, 3, 5, Image.BILINEAR).apply_image(img)
    assert out.shape == (3, 5, 3) and out[0, 0, 0] < out[0, -1, 0]
    seg = ResizeTransform(6, 10, 3, 5).apply_segmentation(np.eye(6, 10, dtype=np.uint8))
    assert seg.shape == (3, 5) and set(np.unique(seg)) <= {0, 1}


def test_class_histogram_counts_with_builtin_int(d2, monkeypatch):
    from detectron2.data import build
    logged = []
    monkeypatch.setattr(build, "log_first_n", lambda level, msg, **kw: logged.append(msg))
    dicts = [{"annotations": [{"category_id": 0}, {"category_id": 1},
                              {"category_id": 1, "iscrowd": 1}]},
             {"annotations": [{"category_id": 1}]}]
    build.print_instances_class_histogram(dicts, ["circle", "square"])  # np.int before the patch
    rows = [line.replace(" ", "") for line in logged[0].splitlines()]
    assert any(row.startswith("|circle|1|square|2|") for row in rows), logged[0]
    assert any(row.startswith("|total|3|") for row in rows), logged[0]


def test_masks_are_bool_arrays(d2):
    from detectron2.structures.masks import PolygonMasks, polygons_to_bitmask
    square = [np.array([1, 1, 6, 1, 6, 6, 1, 6], dtype=np.float64)]
    bitmask = polygons_to_bitmask(square, 8, 8)
    assert bitmask.dtype == np.bool_ and 16 <= bitmask.sum() <= 36
    keep = PolygonMasks([square, []]).nonempty()
    assert keep.dtype == torch.bool and keep.tolist() == [True, False]


def test_paste_mask_old_reads_the_pil_image_back(d2):
    from detectron2.layers.mask_ops import paste_mask_in_image_old
    mask = torch.ones(4, 4)
    out = paste_mask_in_image_old(mask, torch.tensor([2.0, 2.0, 5.0, 5.0]), 8, 8, 0.5)
    assert out.shape == (8, 8) and int(out.sum()) == 16 and int(out[2:6, 2:6].sum()) == 16


def test_sem_seg_evaluator_on_builtin_dtypes(d2, tmp_path):
    from detectron2.data import DatasetCatalog, MetadataCatalog
    from detectron2.evaluation import SemSegEvaluator
    from PIL import Image
    gt = np.array([[0, 1], [1, 255]], dtype=np.uint8)
    Image.fromarray(gt).save(str(tmp_path / "gt.png"))
    name = "mq_numpy2_semseg_%d" % id(tmp_path)
    record = {"file_name": "x.jpg", "sem_seg_file_name": str(tmp_path / "gt.png")}
    DatasetCatalog.register(name, lambda: [record])
    MetadataCatalog.get(name).set(stuff_classes=["a", "b"], ignore_label=255)
    evaluator = SemSegEvaluator(name, distributed=False)
    evaluator.reset()
    logits = torch.zeros(2, 2, 2)
    logits[0, 0, 0] = logits[1, 0, 1] = logits[1, 1, 0] = 1.0
    evaluator.process([{"file_name": "x.jpg"}], [{"sem_seg": logits}])
    result = evaluator.evaluate()["sem_seg"]
    assert result["mIoU"] == pytest.approx(100.0) and result["pACC"] == pytest.approx(100.0)


def test_lazy_config_formats_with_the_installed_black(d2, tmp_path):
    black = pytest.importorskip("black")
    from detectron2.config import LazyConfig
    from omegaconf import OmegaConf
    cfg = OmegaConf.create({"model": {"depth": 18, "name": "fcos"}, "lr": 0.01})
    text = LazyConfig.to_py(cfg)
    assert "cfg.model.depth = 18" in text and "cfg.lr = 0.01" in text  # black's spacing
    if _version(np.__version__) >= (1, 24):
        # a patched flavour: the lock's black, past CVE-2024-21503
        assert _version(black.__version__) >= (24, 3)


def test_installed_numpy_and_pillow_work_without_the_removed_names(d2):
    import PIL
    from PIL import Image
    if _version(np.__version__) < (1, 24) or _version(PIL.__version__) < (10, 0):
        pytest.skip("numpy %s / Pillow %s still have np.int and Image.LINEAR (the legacy pins)"
                    % (np.__version__, PIL.__version__))
    assert not hasattr(np, "int") and not hasattr(Image, "LINEAR")  # the names the patches replace
