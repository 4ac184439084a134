"""Pure functions over plain data: no ORM, no Django settings. Fast, and testable with hypothesis."""
