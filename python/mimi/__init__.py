"""mimi: a MIMI (More Instant Messaging Interoperability) runtime on Ray, with MLS."""

__version__ = "0.1.0"
