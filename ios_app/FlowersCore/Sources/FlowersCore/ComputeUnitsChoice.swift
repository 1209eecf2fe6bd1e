import Foundation

/// Where Core ML may run the model; the app maps each case to `MLComputeUnits`. Comparing
/// `.all` (Neural Engine when it can) with `.cpuOnly` shows what the Neural Engine buys.
public enum ComputeUnitsChoice: String, Sendable, CaseIterable, Identifiable, Codable {
    case all
    case cpuOnly
    case cpuAndGPU
    case cpuAndNeuralEngine

    public var id: String { rawValue }

    public var title: String {
        switch self {
        case .all: return "All (Neural Engine, GPU, CPU)"
        case .cpuOnly: return "CPU only"
        case .cpuAndGPU: return "CPU + GPU"
        case .cpuAndNeuralEngine: return "CPU + Neural Engine"
        }
    }

    public var shortTitle: String {
        switch self {
        case .all: return "All"
        case .cpuOnly: return "CPU"
        case .cpuAndGPU: return "CPU+GPU"
        case .cpuAndNeuralEngine: return "CPU+ANE"
        }
    }

    /// A stored choice, or `.all` for an unknown or missing one (settings from another version).
    public init(storedValue: String?) {
        self = storedValue.flatMap(ComputeUnitsChoice.init(rawValue:)) ?? .all
    }
}
