"""The public API of shapes.py: public classes and the public methods each defines."""

PUBLIC_API = {
    "Circle": ["area", "circumference", "diameter"],
    "Rectangle": ["area", "perimeter", "scale", "square"],
    "Square": ["from_area"],
}
