import EqProp
import Testing

/// The README's "From Swift" example, as written there (with a smaller test set): it must compile
/// against the public API (`import EqProp` only) and learn. One epoch on 2000 examples gave test errors
/// of 27–33 % (seeds 1–3; chance is 90 %).
@Suite struct ReadmeExampleTests {
    @Test func readmeSwiftExampleTrainsOnACrossbar() throws {
        var spec = try NetworkSpec.load("p-1h")
        spec.beta = 0.5
        spec.nudging = .symmetric
        let device = try DeviceSpec.load("epiram")
        let data = try DataSet.load("fashion-mnist")
        let net = Network(spec: spec, parameters: .initial(spec: spec, seed: 1), device: device, seed: 1)
        var trainer = try Trainer(
            net: net, options: TrainingOptions(seed: 1, trainSubset: 2000, testSubset: 500), data: data)
        let trainError = trainer.trainEpoch(0)
        let testError = trainer.evaluate()
        #expect(trainError < 70 && testError < 50, "train error \(trainError) %, test error \(testError) %")
    }
}
