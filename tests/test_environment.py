from zi2zi_lessons.environment import PackageCheck, check_packages, pinned_versions


def test_constraints_pin_torch_and_the_key_packages():
    pins = pinned_versions()
    assert pins["torch"] == "2.13.0"
    for package in ("torchinfo", "nbval", "jupyterlab", "ipywidgets", "matplotlib"):
        assert package in pins


def test_this_environment_matches_the_constraints():
    mismatched = [row for row in check_packages() if not row.matches]
    assert not mismatched, mismatched


def test_local_build_label_matches_pin(tmp_path):
    assert PackageCheck("torch", "2.13.0+cpu", "2.13.0").matches
    assert not PackageCheck("torch", "2.12.0", "2.13.0").matches
    assert not PackageCheck("nothing", None, "1.0").matches
    constraints = tmp_path / "c.txt"
    constraints.write_text("# comment\nFoo_Bar==1.2  # why\nbaz>=2\n")
    assert pinned_versions(constraints) == {"foo-bar": "1.2"}
