import Testing

@testable import EqProp
@testable import EqPropRuns

/// GDU on the P-1h shape with the seed's Fig. 3 settings (β = 0.01, T = 150, K = 10) on a real
/// Fashion-MNIST batch of 20. σ′ breaks the exact primitive, so the match is approximate.
/// Measured (seed 1, Double): W01 cosine 0.962, sign 91.9 %; W12 cosine 0.958, sign 90.8 %.
@Suite struct PrototypicalGDUTests {
    @Test func p1hFashionMNISTBatch() throws {
        var spec = try NetworkSpec.load("p-1h")
        spec.beta = 0.01; spec.T = 150; spec.K = 10
        let data = try DataSet.load("fashion-mnist")
        let batcher = Batcher(data.train, batchSize: 20)
        let (x, y, _) = batcher.batch(batcher.order(epoch: 0, seed: 1)[0..<20], as: Double.self)
        let r = GDU.run(spec: spec, parameters: .initial(spec: spec, seed: 1), x: x, y: y, precision: .double)
        for l in r.layers where l.kind == "weights" {
            #expect(l.agreement.cosine >= 0.85, "\(l.layer) cosine \(l.agreement.cosine)")
            #expect(l.agreement.signAgreement >= 85, "\(l.layer) sign \(l.agreement.signAgreement)")
        }
    }
}
