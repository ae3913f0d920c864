"""The Avro contract of Touchline and its two wire formats.

- ``schemas/avro/<name>.v<N>.avsc``: the schemas (touchpoint, enriched_touchpoint, rejected_event)
- ``schemas.catalog``: the .avsc files parsed once, with fingerprints
- ``schemas.models``: pydantic models mirroring the latest version of each schema
- ``schemas.wire``: ``AvroEncoder`` / ``AvroDecoder`` (single-object encoding and registry framing)
- ``schemas.reasons``: the reject reason codes of dead letters
"""
