"""Shapes that know their area, for the floor-plan calculator."""

import math


class _Shape:
    """Base of every shape: subclasses supply area()."""

    def area(self):
        raise NotImplementedError

    def describe(self):
        return f"{type(self).__name__} with area {self.area():.2f}"


class Circle(_Shape):
    def __init__(self, radius):
        self._check(radius)
        self.radius = radius

    def area(self):
        return math.pi * self.radius**2

    def circumference(self):
        return 2 * math.pi * self.radius

    @property
    def diameter(self):
        return 2 * self.radius

    def _check(self, radius):
        if radius < 0:
            raise ValueError("radius must not be negative")


class Rectangle(_Shape):
    def __init__(self, width, height):
        self.width = width
        self.height = height

    def area(self):
        return self.width * self.height

    def perimeter(self):
        return 2 * (self.width + self.height)

    @classmethod
    def square(cls, side):
        return cls(side, side)

    def scale(self, factor):
        return Rectangle(self.width * factor, self.height * factor)

    def __repr__(self):
        return f"Rectangle({self.width}, {self.height})"


class Square(Rectangle):
    def __init__(self, side):
        super().__init__(side, side)

    @staticmethod
    def from_area(area):
        return Square(math.sqrt(area))


def total_area(shapes):
    """Sum of the areas of `shapes`."""
    return sum(shape.area() for shape in shapes)


def largest(shapes):
    return max(shapes, key=lambda shape: shape.area())
