import hashlib
import pathlib

import shapes_index

EXPECTED = {
    "Circle": ["area", "circumference", "diameter"],
    "Rectangle": ["area", "perimeter", "scale", "square"],
    "Square": ["from_area"],
}


def test_public_api_is_exact():
    assert shapes_index.PUBLIC_API == EXPECTED


def test_no_private_classes():
    assert not any(name.startswith("_") for name in shapes_index.PUBLIC_API)


def test_shapes_untouched():
    digest = hashlib.sha256(pathlib.Path("shapes.py").read_bytes()).hexdigest()
    assert digest == "bfa584ced10faeb03334447a22a02c9a0ad9257f48264b1bc6a431445960c239"
