import Foundation

/// `labels.txt`: UTF-8, one label per line, in output-index order, no blank lines; one trailing
/// newline is normal; CRLF line ends are accepted and one leading UTF-8 byte-order mark is dropped.
/// The same rules as `flowers_mobile.labels` and the Android app's `Labels` (tests/vectors/labels.json).
public enum LabelsFile {
    /// The labels file's name in an export folder and in the app's Model/ folder.
    public static let fileName = "labels.txt"

    /// Parse and validate the bytes of a labels file.
    ///
    /// - Parameters:
    ///   - data: the file's bytes.
    ///   - path: where they came from, for messages.
    /// - Returns: the labels in output-index order.
    /// - Throws: `FlowersCoreError.notUTF8` or `.invalidLabels` naming the line.
    public static func parse(_ data: Data, path: String = fileName) throws -> [String] {
        var data = data
        if data.starts(with: [0xEF, 0xBB, 0xBF]) {
            data = Data(data.dropFirst(3))  // a byte-order mark is an encoding marker, not part of a label
        }
        // Split on the byte 0x0A, not on Swift Characters: "\r\n" is one Character and would
        // never equal "\n".
        var lines = data.split(separator: 0x0A, omittingEmptySubsequences: false).map { Data($0) }
        if lines.last?.isEmpty == true {
            lines.removeLast()  // the trailing newline
        }
        var labels: [String] = []
        for line in lines {
            var bytes = line
            if bytes.last == 0x0D { bytes.removeLast() }  // CRLF files
            guard let label = String(data: bytes, encoding: .utf8) else {
                throw FlowersCoreError.notUTF8(path: path)
            }
            labels.append(label)
        }
        return try validate(labels, path: path)
    }

    /// Read and validate a labels file from disk.
    public static func read(_ url: URL) throws -> [String] {
        return try parse(readFileData(url), path: url.path)
    }

    /// Check a list of labels: not empty, no blank ones, no surrounding whitespace, unique.
    @discardableResult
    public static func validate(_ labels: [String], path: String = "labels") throws -> [String] {
        guard !labels.isEmpty else {
            throw FlowersCoreError.invalidLabels(path: path, reason: "is empty; give one label per line, in output-index order")
        }
        var seen: [String: Int] = [:]
        for (index, label) in labels.enumerated() {
            let line = index + 1
            let trimmed = label.trimmingCharacters(in: .whitespacesAndNewlines)
            if trimmed.isEmpty {
                throw FlowersCoreError.invalidLabels(path: path, reason: "line \(line) is blank; remove blank lines")
            }
            if trimmed != label || label.unicodeScalars.contains(where: { $0 == "\n" || $0 == "\r" }) {
                throw FlowersCoreError.invalidLabels(
                    path: path, reason: "line \(line) (\"\(label)\") has surrounding whitespace or a line break")
            }
            if let first = seen[label] {
                throw FlowersCoreError.invalidLabels(
                    path: path, reason: "label \"\(label)\" appears twice (lines \(first + 1) and \(line)); labels must be unique")
            }
            seen[label] = index
        }
        return labels
    }
}

/// How the model's own labels (its classifier config) differ from `labels.txt`.
public enum LabelMismatch: Sendable, Equatable, CustomStringConvertible {
    case count(model: Int, file: Int)
    /// Same labels, different order: the output indices would be read wrongly.
    case order(index: Int, model: String, file: String)
    case different(index: Int, model: String, file: String)

    public var description: String {
        switch self {
        case let .count(model, file):
            return "the model has \(model) labels, labels.txt has \(file)"
        case let .order(index, model, file):
            return "labels.txt has the model's labels in another order "
                + "(index \(index): model \"\(model)\", labels.txt \"\(file)\")"
        case let .different(index, model, file):
            return "labels differ at index \(index): model \"\(model)\", labels.txt \"\(file)\""
        }
    }

    /// Compare the labels a model reports with the labels a file lists.
    ///
    /// - Returns: `nil` when they are equal, element by element and in order.
    public static func compare(model: [String], file: [String]) -> LabelMismatch? {
        guard model.count == file.count else {
            return .count(model: model.count, file: file.count)
        }
        guard let index = zip(model, file).firstIndex(where: { !sameScalars($0.0, $0.1) }) else {
            return nil
        }
        let sameSet = Set(model.map { Array($0.unicodeScalars) }) == Set(file.map { Array($0.unicodeScalars) })
        return sameSet
            ? .order(index: index, model: model[index], file: file[index])
            : .different(index: index, model: model[index], file: file[index])
    }

    /// Exact comparison: labels are identifiers, so "é" and "e\u{301}" are different labels
    /// (Python compares them that way too).
    private static func sameScalars(_ a: String, _ b: String) -> Bool {
        a.unicodeScalars.elementsEqual(b.unicodeScalars)
    }
}

extension Zip2Sequence {
    fileprivate func firstIndex(where predicate: ((Sequence1.Element, Sequence2.Element)) -> Bool) -> Int? {
        for (offset, pair) in enumerated() where predicate(pair) {
            return offset
        }
        return nil
    }
}
