"""The core package never imports the detection glue or the forks."""
import subprocess
import sys


def test_core_import_does_not_load_detection_or_forks():
    code = ("import sys, model_quantization, model_quantization.convert, "
            "model_quantization.quantizers; "
            "bad = [m for m in sys.modules if m.startswith(('model_quantization.detection', "
            "'detectron2', 'adet'))]; print(bad); sys.exit(1 if bad else 0)")
    proc = subprocess.run([sys.executable, "-c", code], stdout=subprocess.PIPE)
    assert proc.returncode == 0, proc.stdout.decode()


def test_trainer_module_imports_without_forks():
    code = ("import sys, model_quantization.detection.trainer; "
            "sys.exit(1 if 'detectron2' in sys.modules else 0)")
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0
