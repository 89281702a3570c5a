"""Small 2-D geometry helpers."""

import math


def distance(a, b):
    """Euclidean distance between points a and b."""
    return math.hypot(b[0] - a[0], b[1] - a[1])


def midpoint(a, b):
    return ((a[0] + b[0]) / 2, (a[1] + b[1]) / 2)


class Polygon:
    """A closed polygon given by its corners in order."""

    def __init__(self, points):
        self.points = list(points)

    def perimeter(self):
        pairs = zip(self.points, self.points[1:] + self.points[:1], strict=True)
        return sum(distance(a, b) for a, b in pairs)

    def area(self):
        return polygon_area(self.points)


def polygon_area(points):
    """Shoelace formula."""

    def cross(p, q):
        return p[0] * q[1] - q[0] * p[1]

    pairs = zip(points, points[1:] + points[:1], strict=True)
    return abs(sum(cross(p, q) for p, q in pairs)) / 2


def _clamp(value, low, high):
    return max(low, min(high, value))


def angle_between(u, v):
    """Angle in radians between vectors u and v."""
    dot = u[0] * v[0] + u[1] * v[1]
    cos = dot / (math.hypot(*u) * math.hypot(*v))
    return math.acos(_clamp(cos, -1.0, 1.0))


def rotate(point, angle):
    c, s = math.cos(angle), math.sin(angle)
    return (point[0] * c - point[1] * s, point[0] * s + point[1] * c)
