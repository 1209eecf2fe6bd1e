import Foundation

/// SHA-256 of files and folders, computed exactly as the Python side does
/// (`flowers_mobile.fsutil.sha256_path`), so the app can check a bundled `Flowers.mlpackage`
/// against the sha256 that `manifest.json` records.
///
/// A folder's digest covers every regular file below it, in the order of their relative paths
/// compared component by component (Python's `sorted()` of `pathlib.Path`s): for each file, its
/// relative POSIX path in UTF-8, a NUL byte, and the lowercase hex sha256 of its bytes.
/// Symbolic links to folders are not descended (as `Path.rglob` does not); a link to a file
/// counts with its target's bytes.
public enum ContentDigest {
    /// Bytes read per chunk when hashing a file.
    static let chunkSize = 1 << 20

    /// Lowercase hex sha256 of a file's bytes.
    public static func sha256(ofFile url: URL) throws -> String {
        let handle: FileHandle
        do {
            handle = try FileHandle(forReadingFrom: url)
        } catch {
            throw FlowersCoreError.unreadable(path: url.path, reason: error.localizedDescription)
        }
        defer { try? handle.close() }
        var hasher = SHA256()
        while true {
            let chunk: Data?
            do {
                chunk = try handle.read(upToCount: chunkSize)
            } catch {
                throw FlowersCoreError.unreadable(path: url.path, reason: error.localizedDescription)
            }
            guard let chunk, !chunk.isEmpty else { break }
            hasher.update(chunk)
        }
        return hasher.finalize().hex
    }

    /// Lowercase hex sha256 of a file, or of a folder such as an `.mlpackage` (see the type's
    /// documentation for the folder rule).
    public static func sha256(ofPath url: URL) throws -> String {
        let fm = FileManager.default
        var isDirectory: ObjCBool = false
        guard fm.fileExists(atPath: url.path, isDirectory: &isDirectory) else {
            throw FlowersCoreError.fileNotFound(path: url.path)
        }
        guard isDirectory.boolValue else {
            return try sha256(ofFile: url)
        }
        var hasher = SHA256()
        for relative in try regularFiles(under: url) {
            let fileDigest = try sha256(ofFile: url.appendingPathComponent(relative.joined(separator: "/")))
            hasher.update(Data(relative.joined(separator: "/").utf8))
            hasher.update(Data([0]))
            hasher.update(Data(fileDigest.utf8))
        }
        return hasher.finalize().hex
    }

    /// Relative paths (as path components) of the regular files below `root`, sorted the way
    /// Python sorts `pathlib.Path`s: component by component, by Unicode code points.
    static func regularFiles(under root: URL) throws -> [[String]] {
        var found: [[String]] = []
        try collect(directory: root.path, relative: [], into: &found)
        return found.sorted(by: pathPrecedes)
    }

    private static func collect(directory: String, relative: [String], into found: inout [[String]]) throws {
        let fm = FileManager.default
        let names: [String]
        do {
            names = try fm.contentsOfDirectory(atPath: directory)
        } catch {
            throw FlowersCoreError.unreadable(path: directory, reason: error.localizedDescription)
        }
        for name in names {
            let path = directory + "/" + name
            let attributes = try? fm.attributesOfItem(atPath: path)  // lstat: does not follow links
            let isLink = (attributes?[.type] as? FileAttributeType) == .typeSymbolicLink
            var isDirectory: ObjCBool = false
            guard fm.fileExists(atPath: path, isDirectory: &isDirectory) else { continue }  // dangling link
            if isDirectory.boolValue {
                if !isLink {
                    try collect(directory: path, relative: relative + [name], into: &found)
                }
            } else {
                found.append(relative + [name])
            }
        }
    }

    /// Python's ordering of relative paths: lexicographic over components, each component
    /// compared by Unicode scalar values (not by Swift's `String` ordering, not as joined strings:
    /// "a/b" sorts before "a.txt" because "a" < "a.txt").
    static func pathPrecedes(_ lhs: [String], _ rhs: [String]) -> Bool {
        for (l, r) in zip(lhs, rhs) {
            // Scalar-wise, both ways: String's `==` would call canonically equivalent names equal.
            if scalarsPrecede(l, r) { return true }
            if scalarsPrecede(r, l) { return false }
        }
        return lhs.count < rhs.count
    }

    static func scalarsPrecede(_ lhs: String, _ rhs: String) -> Bool {
        lhs.unicodeScalars.lexicographicallyPrecedes(rhs.unicodeScalars) { $0.value < $1.value }
    }
}
