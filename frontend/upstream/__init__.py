"""The call to a backend and its answer: the request sent, its deadlines and bounds, and the one relay loop that
brings the answer back, natively or translated."""
