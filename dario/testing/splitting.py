"""Cutting bytes at arbitrary offsets, as the network does, for the property-based tests."""


def split_at(data: bytes, cuts: list[int]) -> list[bytes]:
    """data cut at each offset (taken modulo its length + 1); the pieces join back to data."""
    points = sorted({cut % (len(data) + 1) for cut in cuts})
    pieces, start = [], 0
    for point in points:
        pieces.append(data[start:point])
        start = point
    return pieces + [data[start:]]
