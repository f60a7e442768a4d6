"""dario's HTTP edge: parses client requests, routes them, calls upstreams and relays their answers."""
