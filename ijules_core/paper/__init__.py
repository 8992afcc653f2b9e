"""Paper trading: the long-running service that trades the champion through the shared execution path.

    sources (replay | IB real-time bars | Polygon polling) → stream (features, bar by bar)
        → trader (policy → governor → orders → broker → fills → portfolio) → store (trading.*)

`service` runs it (`ijules paper`), `store` is its memory across crashes (written before acting),
`journal` is the broker as the engine sees it (nothing sent or booked unwritten), `simvenue` the
simulated broker that outlives the service, `metrics` its Prometheus endpoint. The risk governor
(`ijules_core.risk`, with the broker link, standing aside and its snapshot across restarts) and the
Interactive Brokers broker (`ijules_core.brokers.ib`) live with the rest of the core.
"""
