"""FAISS on the CPU for compare.sh's `codebook` family: nearest-codeword assignment
(IndexFlatL2.search, k = 1), product-quantizer training, encoding, decoding and distance
tables (ProductQuantizer) and the PQ scan (IndexPQ.search), with embedkit's codebooks copied
in (the same m x 2^bits x dsub layout) except for training, on the inputs data.mjs wrote.
Training starts from FAISS's own random centroids, so it is timed only, and both sides
print the mean squared error of their quantizer on the training rows (`mse`)."""
import faiss
import numpy as np

from peer_common import Peer, check_of


def main(p):
    S = p.shapes
    dim, m, bits, k = S["pqDim"], S["pqM"], S["pqBits"], S["pqK"]
    x_assign = p.load("assign_x.f32", np.float32, (S["assignRows"], dim))
    book = p.load("assign_book.f32", np.float32, (S["assignCodes"], dim))
    x = p.load("pq_x.f32", np.float32, (S["pqRows"], dim))
    queries = x[: S["pqQueries"]]
    flat = faiss.IndexFlatL2(dim)
    flat.add(book)
    codebooks = p.load("pq_codebooks.f32", np.float32)
    pq = faiss.ProductQuantizer(dim, m, bits)
    faiss.copy_array_to_vector(codebooks, pq.centroids)
    codes = pq.compute_codes(x)
    index = faiss.IndexPQ(dim, m, bits)
    faiss.copy_array_to_vector(codebooks, index.pq.centroids)
    index.is_trained = True
    index.add_sa_codes(codes)  # the codes as encoded once: what pqScan scans on our side

    # The first 256 x 2^bits rows: as many as FAISS's k-means takes before it subsamples
    # (max_points_per_centroid), 25 iterations as on our side (both defaults).
    train_x = np.ascontiguousarray(x[: min(S["pqRows"], 256 << bits)])

    def train():
        trained = faiss.ProductQuantizer(dim, m, bits)
        trained.train(train_x)
        return trained

    def training_error(trained):
        decoded = trained.decode(trained.compute_codes(train_x))
        return float(np.mean(np.square(decoded.astype(np.float64) - train_x)))

    def distance_tables():  # the SWIG form: (n, x, out), the output a fresh array as ours
        tables = np.empty((queries.shape[0], m, 1 << bits), dtype=np.float32)
        pq.compute_distance_tables(queries.shape[0], faiss.swig_ptr(queries), faiss.swig_ptr(tables))
        return tables

    for t in p.threads:
        faiss.omp_set_num_threads(t)
        p.emit("codebookAssign", "faiss IndexFlatL2.search k=1", t, p.timed(lambda: flat.search(x_assign, 1)),
               check_of(flat.search(x_assign, 1)[0]))
        p.emit("pqTrain", "faiss ProductQuantizer.train", t, p.timed(train, 3), None, mse=training_error(train()))
        p.emit("pqEncode", "faiss ProductQuantizer.compute_codes", t, p.timed(lambda: pq.compute_codes(x)),
               check_of(pq.compute_codes(x)))
        p.emit("pqDecode", "faiss ProductQuantizer.decode", t, p.timed(lambda: pq.decode(codes)), check_of(pq.decode(codes)))
        p.emit("pqDistanceTable", "faiss ProductQuantizer.compute_distance_tables", t, p.timed(distance_tables),
               check_of(distance_tables()))
        p.emit("pqScan", "faiss IndexPQ.search", t, p.timed(lambda: index.search(queries, k)),
               check_of(index.search(queries, k)[0]))


if __name__ == "__main__":
    main(Peer())
