"""The Dockerfile, parsed by dockerfile-parse, held to the image rules of the project."""

import os
import re
import shlex

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


def _flavor_base(dockerfile, flavor):
    for name, base, instructions in _stages(dockerfile):
        if name == "base-%s" % flavor:
            return base, instructions
    raise AssertionError("no stage base-%s in the Dockerfile" % flavor)


def _pip_installs(dockerfile):
    """Every `pip install ...` command of every RUN, as a token list (after `install`)."""
    found = []
    for item in dockerfile.structure:
        if item["instruction"] != "RUN":
            continue
        text = item["value"].replace("\\\n", " ")
        for match in re.finditer(r"pip install(.*?)(?=&&|;|\|\||$)", text, re.S):
            found.append(shlex.split(match.group(1)))
    return found


def test_dockerfile_every_external_from_is_pinned_to_an_exact_tag(dockerfile):
    stage_names = {name for name, _, _ in _stages(dockerfile) if name}
    for _, base, _ in _stages(dockerfile):
        if "${FLAVOR}" in base:
            for flavor in FLAVORS:
                assert base.replace("${FLAVOR}", flavor) in stage_names
            continue
        assert base not in stage_names, "external image expected: %s" % base
        image, _, tag = base.partition(":")
        assert "latest" not in base
        assert EXACT_TAG.match(tag.split("@")[0]), "%s is not pinned to an exact x.y.z tag" % base


def test_dockerfile_final_stage_runs_as_a_non_root_user(dockerfile):
    _, _, instructions = _stages(dockerfile)[-1]
    users = [item["value"].strip() for item in instructions if item["instruction"] == "USER"]
    assert users, "the final stage sets no USER"
    assert users[-1].split(":")[0] not in ("root", "0")
    args = {item["value"].split("=")[0] for item in instructions if item["instruction"] == "ARG"}
    assert {"USER_UID", "USER_GID"} <= args


def test_dockerfile_pip_installs_only_pinned_or_local_no_deps(dockerfile):
    installs = _pip_installs(dockerfile)
    assert installs, "no pip install found: is the parser reading the RUN lines?"
    for tokens in installs:
        positional, locks, index = [], [], 0
        while index < len(tokens):
            token = tokens[index]
            if token in ("-r", "--requirement"):
                locks.append(tokens[index + 1])
                index += 2
                continue
            if token in ("--config-settings", "-c", "--constraint"):
                index += 2
                continue
            if not token.startswith("-"):
                positional.append(token)
            index += 1
        for lock in locks:
            assert lock.endswith(".lock"), "pip install -r %s: not a lock file" % lock
            if not lock.startswith("docker/"):
                # a one-line lock cut from a real one:
                # grep -E '^name==' docker/...lock > /tmp/x.lock
                text = open(os.path.join(ROOT, "Dockerfile")).read()
                assert re.search(r"grep -E '\^[\w-]+==' \"?docker/requirements-[\w${}]+\.lock\"? > "
                                 + re.escape(lock), text), lock
        for spec in positional:
            if "==" in spec:
                continue
            assert spec == "." or spec.startswith(("third_party/", "/", "./")), spec
            assert "--no-deps" in tokens, "local install without --no-deps: %s" % tokens


def test_dockerfile_lock_files_it_names_exist_for_every_flavor(dockerfile):
    text = open(os.path.join(ROOT, "Dockerfile")).read()
    names = set(re.findall(r"docker/requirements-[\w${}]+\.lock", text))
    assert any("${FLAVOR}" in name for name in names)
    for flavor in FLAVORS:
        for name in names:
            path = os.path.join(ROOT, name.replace("${FLAVOR}", flavor))
            assert os.path.isfile(path), "%s is named by the Dockerfile but missing" % path


@pytest.mark.parametrize("flavor", ["legacy", "current"])
def test_dockerfile_apex_commit_matches_the_pins(dockerfile, flavor):
    _, instructions = _flavor_base(dockerfile, flavor)
    assert _env(instructions, "MQ_APEX_COMMIT") == APEX[flavor]


def test_dockerfile_cpu_flavor_builds_no_cuda(dockerfile):
    base, instructions = _flavor_base(dockerfile, "cpu")
    assert "cuda" not in base
    assert _env(instructions, "MQ_APEX_COMMIT") == "none"
    assert _env(instructions, "FORCE_CUDA") == "0"


def test_dockerfile_legacy_base_is_cuda11_cudnn8_ubuntu2004_python38(dockerfile):
    base, instructions = _flavor_base(dockerfile, "legacy")
    assert re.match(r"nvidia/cuda:11\.\d+\.\d+-cudnn8-devel-ubuntu20\.04$", base)
    assert _env(instructions, "MQ_PYTHON") == "python3.8"
    assert _env(instructions, "TORCH_CUDA_ARCH_LIST") == "6.0;6.1;7.0;7.5;8.0;8.6"
    assert _env(instructions, "FORCE_CUDA") == "1"
    assert _env(instructions, "MQ_FORK_PATCHES") == "none"


def test_dockerfile_current_base_is_cuda12_with_hopper(dockerfile):
    base, instructions = _flavor_base(dockerfile, "current")
    assert re.match(r"nvidia/cuda:12\.\d+\.\d+-cudnn[\w-]*-devel-ubuntu\d+\.\d+$", base)
    assert _env(instructions, "MQ_PYTHON") in ("python3.10", "python3.11")
    arch = _env(instructions, "TORCH_CUDA_ARCH_LIST").split(";")
    assert "9.0" in arch and "8.0" in arch
    assert _env(instructions, "MQ_FORK_PATCHES") == "all"


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
