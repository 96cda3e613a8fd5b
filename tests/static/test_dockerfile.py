"""The Dockerfile, parsed by dockerfile-parse, held to the image rules of the project."""

import os
import re
import subprocess

import pytest
from static_helpers import APEX, FLAVORS, ROOT

EXACT_TAG = re.compile(r"^\d+\.\d+\.\d+[\w.-]*$")


def _stages(dockerfile):
    """[(stage name, base image, [instructions])] in file order."""
    stages = []
    for item in dockerfile.structure:
        if item["instruction"] == "FROM":
            words = item["value"].split()
            name = words[2] if len(words) >= 3 and words[1].upper() == "AS" else None
            stages.append((name, words[0], []))
        elif stages:
            stages[-1][2].append(item)
    return stages


def _env(instructions, key):
    for item in instructions:
        if item["instruction"] == "ENV":
            match = re.search(r"(?:^|\s)%s=(\"[^\"]*\"|\S+)" % re.escape(key), item["value"])
            if match:
                return match.group(1).strip('"')
    return None


def _global_args(dockerfile):
    """The ARG defaults declared before the first FROM (the base image choices)."""
    args = {}
    for item in dockerfile.structure:
        if item["instruction"] == "FROM":
            break
        if item["instruction"] == "ARG" and "=" in item["value"]:
            key, _, value = item["value"].partition("=")
            args[key.strip()] = value.strip()
    return args


def _resolve(base, args):
    return re.sub(r"\$\{(\w+)\}", lambda m: args.get(m.group(1), m.group(0)), base)


def _flavor_base(dockerfile, flavor):
    args = _global_args(dockerfile)
    for name, base, instructions in _stages(dockerfile):
        if name == "base-%s" % flavor:
            return _resolve(base, args), instructions
    raise AssertionError("no stage base-%s in the Dockerfile" % flavor)


def _install_steps(text):
    """The docker/install.sh steps a text runs, in order."""
    steps = []
    for match in re.finditer(r"docker/install\.sh((?: +[a-z]+)+)", text):
        steps.extend(match.group(1).split())
    return steps


def _install_script():
    return open(os.path.join(ROOT, "docker", "install.sh")).read()


def _flavor_settings(flavor):
    """(fork patches, apex commit) docker/install.sh uses for a flavour."""
    match = re.search(r"^\s+%s\) patches=(\w+); apex=(\w+) ;;" % flavor, _install_script(), re.M)
    assert match, "docker/install.sh sets nothing for the %s flavour" % flavor
    return match.group(1), match.group(2)


def test_dockerfile_every_external_from_is_pinned_to_an_exact_tag(dockerfile):
    stage_names = {name for name, _, _ in _stages(dockerfile) if name}
    args = _global_args(dockerfile)
    for _, base, _ in _stages(dockerfile):
        if "${FLAVOR}" in base:
            for flavor in FLAVORS:
                assert base.replace("${FLAVOR}", flavor) in stage_names
            continue
        base = _resolve(base, args)
        assert "$" not in base, "base image without a default: %s" % base
        assert base not in stage_names, "external image expected: %s" % base
        image, _, tag = base.partition(":")
        assert "latest" not in base
        assert EXACT_TAG.match(tag.split("@")[0]), "%s is not pinned to an exact x.y.z tag" % base


def test_dockerfile_base_images_are_build_arguments():
    # A site mirror or a local stand-in replaces a base without editing the file.
    text = open(os.path.join(ROOT, "Dockerfile")).read()
    for flavor in FLAVORS:
        assert "FROM ${BASE_%s} AS base-%s" % (flavor.upper(), flavor) in text


def test_dockerfile_pulls_no_frontend_image():
    # `# syntax=...` makes BuildKit pull a frontend from Docker Hub: offline builds fail at once.
    first = open(os.path.join(ROOT, "Dockerfile")).readline()
    assert not re.match(r"#\s*syntax\s*=", first), first


def test_dockerfile_final_stage_runs_as_a_non_root_user(dockerfile):
    _, _, instructions = _stages(dockerfile)[-1]
    users = [item["value"].strip() for item in instructions if item["instruction"] == "USER"]
    assert users, "the final stage sets no USER"
    assert users[-1].split(":")[0] not in ("root", "0")
    args = {item["value"].split("=")[0] for item in instructions if item["instruction"] == "ARG"}
    assert {"USER_UID", "USER_GID"} <= args


def test_dockerfile_installs_python_only_through_the_install_script(dockerfile):
    runs = [i["value"] for i in dockerfile.structure if i["instruction"] == "RUN"]
    assert not [r for r in runs if "pip install" in r], "pip install outside docker/install.sh"
    steps = _install_steps("\n".join(runs))
    assert steps == ["deps", "apex", "forks", "patches", "project", "wire"], steps


def test_native_setup_runs_the_same_install_script():
    makefile = open(os.path.join(ROOT, "Makefile")).read()
    assert "INSTALL = PYTHON=$(PYTHON) MQ_FLAVOR=$(NATIVE_FLAVOR) MQ_TORCH_FROM=$(TORCH_FROM) " \
        "docker/install.sh" in makefile
    assert "$(INSTALL) deps project" in makefile
    assert "$(INSTALL) $(if $(filter cpu,$(NATIVE_FLAVOR)),,apex )forks wire" in makefile


def test_install_script_pip_installs_only_locks_or_local_no_deps():
    text = _install_script()
    installs = re.findall(r"pip install (.*)", text)
    assert installs, "no pip install found in docker/install.sh"
    for line in installs:
        tokens = line.split()
        if "-r" in tokens:
            lock = tokens[tokens.index("-r") + 1]
            allowed = ('"${tmp}"', '"${lock}"', '"${here}/requirements-', "<(lock_lines")
            assert lock.startswith(allowed), line
            continue
        assert "--no-deps" in tokens, "local install without --no-deps: %s" % line
        assert tokens[-1].rstrip(")") in (".", '"${FORKS_DIR}/${fork}"'), line


def test_install_script_lock_files_exist_for_every_flavor():
    for flavor in FLAVORS + ("cpu-pypi", "dev", "legacy-build"):
        assert os.path.isfile(os.path.join(ROOT, "docker", "requirements-%s.lock" % flavor)), flavor


@pytest.mark.parametrize("flavor", ["legacy", "current"])
def test_install_script_apex_commit_matches_the_pins(flavor):
    assert _flavor_settings(flavor)[1] == APEX[flavor]


def test_dockerfile_cpu_flavor_builds_no_cuda(dockerfile):
    base, instructions = _flavor_base(dockerfile, "cpu")
    assert "cuda" not in base
    assert _flavor_settings("cpu") == ("all", "none")
    assert _env(instructions, "FORCE_CUDA") == "0"


def test_dockerfile_legacy_base_is_cuda11_cudnn8_ubuntu2004_python38(dockerfile):
    base, instructions = _flavor_base(dockerfile, "legacy")
    assert re.match(r"nvidia/cuda:11\.\d+\.\d+-cudnn8-devel-ubuntu20\.04$", base)
    assert _env(instructions, "MQ_PYTHON") == "python3.8"
    assert _env(instructions, "MQ_FLAVOR") == "legacy"
    assert _env(instructions, "TORCH_CUDA_ARCH_LIST") == "6.0;6.1;7.0;7.5;8.0;8.6"
    assert _env(instructions, "FORCE_CUDA") == "1"
    assert _flavor_settings("legacy")[0] == "none"


def test_dockerfile_current_base_is_cuda12_with_hopper(dockerfile):
    base, instructions = _flavor_base(dockerfile, "current")
    assert re.match(r"nvidia/cuda:12\.\d+\.\d+-cudnn[\w-]*-devel-ubuntu\d+\.\d+$", base)
    assert _env(instructions, "MQ_PYTHON") in ("python3.10", "python3.11")
    assert _env(instructions, "MQ_FLAVOR") == "current"
    arch = _env(instructions, "TORCH_CUDA_ARCH_LIST").split(";")
    assert "9.0" in arch and "8.0" in arch
    assert _flavor_settings("current")[0] == "all"


def test_dockerfile_requires_the_forks_in_the_image(dockerfile):
    env = " ".join(i["value"] for i in dockerfile.structure if i["instruction"] == "ENV")
    assert "MQ_REQUIRE_FORKS=1" in env


def test_dockerfile_writes_the_build_info_and_image_tag(dockerfile):
    text = open(os.path.join(ROOT, "Dockerfile")).read()
    assert "docker/write_build_info.py --out /etc/mq-build-info.json" in text
    env = " ".join(i["value"] for i in dockerfile.structure if i["instruction"] == "ENV")
    assert "MQ_IMAGE_TAG=${IMAGE_TAG}" in env
    assert "MQ_BUILD_INFO=/etc/mq-build-info.json" in env


def test_dockerfile_entrypoint_is_the_verb_dispatcher(dockerfile):
    entry = [i["value"] for i in dockerfile.structure if i["instruction"] == "ENTRYPOINT"]
    assert entry and "docker/entrypoint.sh" in entry[-1]
    assert os.access(os.path.join(ROOT, "docker", "entrypoint.sh"), os.X_OK)


def test_dockerfile_forbids_package_downloads_at_run_time(dockerfile):
    env = " ".join(i["value"] for i in dockerfile.structure if i["instruction"] == "ENV")
    assert "PIP_NO_INDEX=1" in env


def _run_as_built(run_value, tmp_path, **build_args):
    """Run a RUN instruction's command the way the build would (its --mount flags dropped), with
    docker/install.sh replaced by a fake that prints the settings it was given."""
    fake = tmp_path / "docker" / "install.sh"
    fake.parent.mkdir(exist_ok=True)
    fake.write_text("#!/usr/bin/env bash\necho \"steps=$* apex=${MQ_APEX_COMMIT-unset} "
                    "arch=${TORCH_CUDA_ARCH_LIST-unset}\"\n")
    fake.chmod(0o755)
    command = re.sub(r"^(--mount=\S+\s+)+", "", run_value.strip())
    env = {"PATH": os.environ["PATH"]}
    env.update(build_args)
    proc = subprocess.run(["bash", "-o", "pipefail", "-c", command], cwd=str(tmp_path), env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip()


def _run_of_step(dockerfile, step):
    runs = [i["value"] for i in dockerfile.structure if i["instruction"] == "RUN"]
    found = [r for r in runs if re.search(r"docker/install\.sh %s\s*$" % step, r.strip())]
    assert len(found) == 1, found
    return found[0]


def test_dockerfile_apex_commit_and_arch_list_are_build_args_defaulting_to_the_flavours(
        dockerfile):
    _, _, instructions = _stages(dockerfile)[-1]
    args = dict(item["value"].partition("=")[::2] for item in instructions
                if item["instruction"] == "ARG")
    assert args.get("APEX_COMMIT") == "" and args.get("CUDA_ARCH_LIST") == "", args


def test_dockerfile_apex_step_follows_apex_commit(dockerfile, tmp_path):
    run = _run_of_step(dockerfile, "apex")
    flavour = {"APEX_COMMIT": "", "CUDA_ARCH_LIST": "", "TORCH_CUDA_ARCH_LIST": "8.0;9.0"}
    # empty: install.sh's own pin for the flavour (its ${MQ_APEX_COMMIT:-...} default)
    assert _run_as_built(run, tmp_path, **flavour) == "steps=apex apex= arch=8.0;9.0"
    skipped = dict(flavour, APEX_COMMIT="none", CUDA_ARCH_LIST="9.0")
    assert _run_as_built(run, tmp_path, **skipped) == "steps=apex apex=none arch=9.0"


def test_dockerfile_forks_step_compiles_for_cuda_arch_list_else_the_flavours_list(
        dockerfile, tmp_path):
    run = _run_of_step(dockerfile, "forks")
    flavour = {"TORCH_CUDA_ARCH_LIST": "8.0;9.0"}
    assert _run_as_built(run, tmp_path, CUDA_ARCH_LIST="", **flavour).endswith("arch=8.0;9.0")
    assert _run_as_built(run, tmp_path, CUDA_ARCH_LIST="9.0", **flavour).endswith("arch=9.0")
    # the cpu flavour sets no list: the step must not fail on the unset variable
    assert _run_as_built(run, tmp_path, CUDA_ARCH_LIST="").endswith("arch=")
