// Minimal stand-ins for the Apple frameworks the iOS app imports (SwiftUI, UIKit, AVFoundation,
// Vision, Core ML, PhotosUI, Combine), so that `swiftc -typecheck` can check the app's own code on
// Linux, where none of those frameworks exist. Used by tests/test_ios_typecheck.py only; never
// part of the app (project.yml does not list this folder).
//
// What this catches: the app's code against itself and against FlowersCore (a renamed FlowersCore
// API, a wrong argument label between two of the app's own types, an unhandled enum case, an
// optional used as a value, main-actor isolation mistakes). What it cannot catch: a misuse of an
// Apple API, because these declarations are only as right as their author's reading of Apple's
// documentation. `xcodebuild` in .github/workflows/ios.yml is the check for that.
//
// Keep each stand-in as small as the app's use of it; add to it when the app uses something new.

import Foundation

// MARK: - CoreGraphics, ImageIO, CoreVideo, CoreMedia

final class CGImage {}
enum CGImagePropertyOrientation: UInt32 {
    case up = 1, upMirrored, down, downMirrored, leftMirrored, right, rightMirrored, left
}
final class CVBuffer {}
typealias CVPixelBuffer = CVBuffer
typealias CVImageBuffer = CVBuffer
let kCVPixelBufferPixelFormatTypeKey = "PixelFormatType"
let kCVPixelFormatType_32BGRA: UInt32 = 0x4247_5241
final class CMSampleBuffer {}
struct CMTime { var seconds: Double }
func CMSampleBufferGetImageBuffer(_ buffer: CMSampleBuffer) -> CVImageBuffer? { nil }
func CMSampleBufferGetPresentationTimeStamp(_ buffer: CMSampleBuffer) -> CMTime { CMTime(seconds: 0) }

// MARK: - Core ML

enum MLComputeUnits { case cpuOnly, cpuAndGPU, all, cpuAndNeuralEngine }
final class MLModelConfiguration { var computeUnits: MLComputeUnits = .all }
enum MLFeatureType { case image, multiArray, string }
final class MLImageConstraint { var pixelsWide = 0; var pixelsHigh = 0 }
final class MLFeatureDescription { var type: MLFeatureType = .image; var imageConstraint: MLImageConstraint? }
struct MLModelMetadataKey: Hashable, RawRepresentable {
    var rawValue: String
    static let author = MLModelMetadataKey(rawValue: "author")
    static let versionString = MLModelMetadataKey(rawValue: "version")
    static let license = MLModelMetadataKey(rawValue: "license")
    static let description = MLModelMetadataKey(rawValue: "description")
}
final class MLModelDescription {
    var classLabels: [Any]?
    var inputDescriptionsByName: [String: MLFeatureDescription] = [:]
    var metadata: [MLModelMetadataKey: Any] = [:]
}
final class MLModel {
    init(contentsOf url: URL, configuration: MLModelConfiguration) throws {}
    var modelDescription = MLModelDescription()
    class func compileModel(at url: URL) async throws -> URL { url }
}

// MARK: - Vision

enum VNImageCropAndScaleOption { case centerCrop, scaleFit, scaleFill }
class VNObservation {}
final class VNClassificationObservation: VNObservation { var identifier = ""; var confidence: Float = 0 }
final class VNCoreMLModel { init(for model: MLModel) throws {} }
class VNRequest { var results: [VNObservation]? }
final class VNCoreMLRequest: VNRequest {
    init(model: VNCoreMLModel) {}
    var imageCropAndScaleOption: VNImageCropAndScaleOption = .centerCrop
}
struct VNImageOption: Hashable {}
final class VNImageRequestHandler {
    init(cvPixelBuffer: CVPixelBuffer, orientation: CGImagePropertyOrientation, options: [VNImageOption: Any] = [:]) {}
    init(cgImage: CGImage, orientation: CGImagePropertyOrientation, options: [VNImageOption: Any] = [:]) {}
    func perform(_ requests: [VNRequest]) throws {}
}

// MARK: - AVFoundation

struct AVMediaType: Equatable { static let video = AVMediaType() }
enum AVAuthorizationStatus { case notDetermined, restricted, denied, authorized }
enum AVLayerVideoGravity { case resizeAspect, resizeAspectFill }
class AVCaptureInput {}
class AVCaptureOutput {}
final class AVCaptureConnection {}
final class AVCaptureDevice {
    enum DeviceType { case builtInWideAngleCamera }
    enum Position { case back, front }
    class func `default`(_ type: DeviceType, for media: AVMediaType?, position: Position) -> AVCaptureDevice? { nil }
    class func authorizationStatus(for media: AVMediaType) -> AVAuthorizationStatus { .authorized }
    class func requestAccess(for media: AVMediaType) async -> Bool { true }
}
final class AVCaptureDeviceInput: AVCaptureInput { init(device: AVCaptureDevice) throws {} }
protocol AVCaptureVideoDataOutputSampleBufferDelegate: NSObjectProtocol {
    func captureOutput(_ output: AVCaptureOutput, didOutput sampleBuffer: CMSampleBuffer,
                       from connection: AVCaptureConnection)
}
final class AVCaptureVideoDataOutput: AVCaptureOutput {
    var alwaysDiscardsLateVideoFrames = false
    var videoSettings: [String: Any]! = [:]
    func setSampleBufferDelegate(_ delegate: AVCaptureVideoDataOutputSampleBufferDelegate?, queue: DispatchQueue?) {}
}
final class AVCaptureSession {
    struct Preset: Equatable { static let vga640x480 = Preset() }
    var sessionPreset = Preset()
    var isRunning = false
    func canSetSessionPreset(_ preset: Preset) -> Bool { true }
    func beginConfiguration() {}
    func commitConfiguration() {}
    func canAddInput(_ input: AVCaptureInput) -> Bool { true }
    func addInput(_ input: AVCaptureInput) {}
    func canAddOutput(_ output: AVCaptureOutput) -> Bool { true }
    func addOutput(_ output: AVCaptureOutput) {}
    func startRunning() {}
    func stopRunning() {}
}

// MARK: - UIKit, QuartzCore

class CALayer {}
final class AVCaptureVideoPreviewLayer: CALayer {
    var session: AVCaptureSession?
    var videoGravity: AVLayerVideoGravity = .resizeAspect
}
final class UIColor { static let black = UIColor(); static let secondarySystemBackground = UIColor() }
class UIView {
    class var layerClass: AnyClass { CALayer.self }
    var layer = CALayer()
    var backgroundColor: UIColor?
}
enum UIDeviceOrientation: Int { case unknown, portrait, portraitUpsideDown, landscapeLeft, landscapeRight, faceUp, faceDown }
final class UIDevice {
    @MainActor static let current = UIDevice()
    var orientation: UIDeviceOrientation = .portrait
    static let orientationDidChangeNotification = Notification.Name("UIDeviceOrientationDidChangeNotification")
    func beginGeneratingDeviceOrientationNotifications() {}
    func endGeneratingDeviceOrientationNotifications() {}
}
final class UIApplication { static let openSettingsURLString = "app-settings:" }
final class UIImage {
    enum Orientation: Int { case up, down, left, right, upMirrored, downMirrored, leftMirrored, rightMirrored }
    init?(data: Data) {}
    var cgImage: CGImage? { nil }
    var imageOrientation: Orientation { .up }
}

// MARK: - Combine, PhotosUI

protocol ObservableObject: AnyObject {}
@propertyWrapper struct Published<Value> {
    var wrappedValue: Value
    init(wrappedValue: Value) { self.wrappedValue = wrappedValue }
}
extension NotificationCenter {
    struct Publisher {}
    func publisher(for name: Notification.Name) -> Publisher { Publisher() }
}
struct PhotosPickerItem: Equatable, Sendable {
    func loadTransferable<T>(type: T.Type) async throws -> T? { nil }
}

// MARK: - SwiftUI

@MainActor protocol View {
    associatedtype Body: View
    @ViewBuilder @MainActor var body: Body { get }
}
extension Never: View { var body: Never { return fatalError() } }
/// What every stand-in view and modifier returns.
struct AnyViewStub: View { var body: Never { return fatalError() } }
protocol PrimitiveView: View {}
extension PrimitiveView { var body: Never { return fatalError() } }

@MainActor @resultBuilder enum ViewBuilder {
    static func buildBlock() -> AnyViewStub { AnyViewStub() }
    static func buildBlock<each C: View>(_ content: repeat each C) -> AnyViewStub { AnyViewStub() }
    static func buildExpression<C: View>(_ content: C) -> C { content }
    static func buildOptional(_ content: AnyViewStub?) -> AnyViewStub { AnyViewStub() }
    static func buildEither<T: View>(first: T) -> AnyViewStub { AnyViewStub() }
    static func buildEither<T: View>(second: T) -> AnyViewStub { AnyViewStub() }
}

@MainActor protocol Scene {}
struct WindowGroup: Scene { init(@ViewBuilder content: () -> AnyViewStub) {} }
@MainActor @resultBuilder enum SceneBuilder {
    static func buildBlock<S: Scene>(_ scene: S) -> S { scene }
}
@MainActor protocol App {
    associatedtype Body: Scene
    @SceneBuilder var body: Body { get }
    init()
}
extension App { static func main() {} }

protocol UIViewRepresentable: View {
    associatedtype UIViewType: UIView
    typealias Context = UIViewRepresentableContext<Self>
    func makeUIView(context: Context) -> UIViewType
    func updateUIView(_ uiView: UIViewType, context: Context)
}
struct UIViewRepresentableContext<R> {}
extension UIViewRepresentable { var body: Never { return fatalError() } }

struct LocalizedStringKey: ExpressibleByStringInterpolation { init(stringLiteral: String) {} }
struct Font {
    static let title2 = Font(), body = Font(), headline = Font(), callout = Font(), footnote = Font(), caption = Font()
    enum TextStyle { case callout }
    enum Design { case monospaced }
    func bold() -> Font { self }
    func monospacedDigit() -> Font { self }
    static func system(size: Double) -> Font { Font() }
    static func system(_ style: TextStyle, design: Design) -> Font { Font() }
}
protocol ShapeStyle {}
protocol Shape: View {}
extension Shape { var body: Never { return fatalError() } }
struct RoundedRectangle: Shape { init(cornerRadius: Double) {} }
struct Capsule: Shape {}
struct Material: ShapeStyle {}
extension ShapeStyle where Self == Material { static var ultraThinMaterial: Material { Material() } }
struct Color: PrimitiveView, ShapeStyle {
    static let black = Color(), white = Color(), red = Color(), yellow = Color(), orange = Color()
    static let secondary = Color(), accentColor = Color()
    init() {}
    init(uiColor: UIColor) {}
    func opacity(_ opacity: Double) -> Color { self }
}
enum Alignment { case top, leading, trailing, center }
enum HorizontalAlignment { case leading }
enum Edge { case horizontal, vertical, top }
enum TextAlignment { case center }
struct Animation { static func easeOut(duration: Double) -> Animation { Animation() } }
enum AccessibilityChildBehavior { case combine }
enum ControlSize { case large }
enum TitleDisplayMode { case inline }
enum ToolbarItemPlacement { case principal, primaryAction, confirmationAction }
struct SegmentedPickerStyle { static var segmented: SegmentedPickerStyle { SegmentedPickerStyle() } }
struct BorderedProminentButtonStyle { static var borderedProminent: BorderedProminentButtonStyle { .init() } }
struct TextSelectability { static var enabled: TextSelectability { TextSelectability() } }

extension View {
    func padding() -> AnyViewStub { AnyViewStub() }
    func padding(_ length: Double) -> AnyViewStub { AnyViewStub() }
    func padding(_ edges: Edge, _ length: Double) -> AnyViewStub { AnyViewStub() }
    func frame(width: Double? = nil, height: Double? = nil) -> AnyViewStub { AnyViewStub() }
    func frame(minWidth: Double? = nil, maxWidth: Double? = nil, maxHeight: Double? = nil,
               alignment: Alignment = .center) -> AnyViewStub { AnyViewStub() }
    func font(_ font: Font?) -> AnyViewStub { AnyViewStub() }
    func foregroundColor(_ color: Color?) -> AnyViewStub { AnyViewStub() }
    func background<S: ShapeStyle, T: Shape>(_ style: S, in shape: T) -> AnyViewStub { AnyViewStub() }
    func multilineTextAlignment(_ alignment: TextAlignment) -> AnyViewStub { AnyViewStub() }
    func textSelection(_ selectability: TextSelectability) -> AnyViewStub { AnyViewStub() }
    func lineLimit(_ number: Int?) -> AnyViewStub { AnyViewStub() }
    func opacity(_ opacity: Double) -> AnyViewStub { AnyViewStub() }
    func tint(_ tint: Color?) -> AnyViewStub { AnyViewStub() }
    func accessibilityElement(children: AccessibilityChildBehavior) -> AnyViewStub { AnyViewStub() }
    func accessibilityLabel(_ label: LocalizedStringKey) -> AnyViewStub { AnyViewStub() }
    func accessibilityHint(_ hint: LocalizedStringKey) -> AnyViewStub { AnyViewStub() }
    func ignoresSafeArea() -> AnyViewStub { AnyViewStub() }
    func onAppear(perform action: (() -> Void)? = nil) -> AnyViewStub { AnyViewStub() }
    func onDisappear(perform action: (() -> Void)? = nil) -> AnyViewStub { AnyViewStub() }
    func onReceive(_ publisher: NotificationCenter.Publisher,
                   perform action: @escaping (Notification) -> Void) -> AnyViewStub { AnyViewStub() }
    func task(_ action: @escaping @Sendable () async -> Void) -> AnyViewStub { AnyViewStub() }
    func task<T: Equatable>(id value: T, _ action: @escaping @Sendable () async -> Void) -> AnyViewStub { AnyViewStub() }
    func sheet(isPresented: Binding<Bool>, @ViewBuilder content: @escaping () -> AnyViewStub) -> AnyViewStub { AnyViewStub() }
    func toolbar(@ToolbarContentBuilder content: () -> [ToolbarItem]) -> AnyViewStub { AnyViewStub() }
    func navigationTitle(_ title: LocalizedStringKey) -> AnyViewStub { AnyViewStub() }
    func navigationBarTitleDisplayMode(_ mode: TitleDisplayMode) -> AnyViewStub { AnyViewStub() }
    func pickerStyle(_ style: SegmentedPickerStyle) -> AnyViewStub { AnyViewStub() }
    func buttonStyle(_ style: BorderedProminentButtonStyle) -> AnyViewStub { AnyViewStub() }
    func controlSize(_ size: ControlSize) -> AnyViewStub { AnyViewStub() }
    func clipShape<S: Shape>(_ shape: S) -> AnyViewStub { AnyViewStub() }
    func animation<E: Equatable>(_ animation: Animation?, value: E) -> AnyViewStub { AnyViewStub() }
    func environmentObject<O: ObservableObject>(_ object: O) -> AnyViewStub { AnyViewStub() }
    func tag<H: Hashable>(_ tag: H) -> AnyViewStub { AnyViewStub() }
}
@MainActor @resultBuilder enum ToolbarContentBuilder {
    static func buildBlock(_ items: ToolbarItem...) -> [ToolbarItem] { items }
}
struct ToolbarItem { init(placement: ToolbarItemPlacement, @ViewBuilder content: () -> AnyViewStub) {} }

struct Text: PrimitiveView {
    init(_ key: LocalizedStringKey) {}
    init<S: StringProtocol>(_ content: S) {}
    func monospacedDigit() -> Text { self }
}
struct Image: PrimitiveView {
    init(systemName: String) {}
    init(uiImage: UIImage) {}
    func resizable() -> Image { self }
    func scaledToFit() -> AnyViewStub { AnyViewStub() }
}
struct Label: PrimitiveView {
    init(_ key: LocalizedStringKey, systemImage: String) {}
    init<S: StringProtocol>(_ title: S, systemImage: String) {}
}
struct Button: PrimitiveView {
    init(action: @escaping () -> Void, @ViewBuilder label: () -> AnyViewStub) {}
    init(_ key: LocalizedStringKey, action: @escaping () -> Void) {}
    init<S: StringProtocol>(_ title: S, action: @escaping () -> Void) {}
}
struct ProgressView: PrimitiveView {
    init() {}
    init<S: StringProtocol>(_ title: S) {}
    init(value: Double?) {}
}
struct Spacer: PrimitiveView { init(minLength: Double? = nil) {} }
struct EmptyView: PrimitiveView {}
struct VStack: PrimitiveView {
    init(alignment: HorizontalAlignment? = nil, spacing: Double? = nil, @ViewBuilder content: () -> AnyViewStub) {}
}
struct HStack: PrimitiveView { init(spacing: Double? = nil, @ViewBuilder content: () -> AnyViewStub) {} }
struct ZStack: PrimitiveView { init(alignment: Alignment = .center, @ViewBuilder content: () -> AnyViewStub) {} }
struct ScrollView: PrimitiveView { init(@ViewBuilder content: () -> AnyViewStub) {} }
struct NavigationStack: PrimitiveView { init(@ViewBuilder root: () -> AnyViewStub) {} }
struct Form: PrimitiveView { init(@ViewBuilder content: () -> AnyViewStub) {} }
struct Section: PrimitiveView {
    init(@ViewBuilder content: () -> AnyViewStub, @ViewBuilder header: () -> AnyViewStub,
         @ViewBuilder footer: () -> AnyViewStub) {}
    init(_ title: LocalizedStringKey, @ViewBuilder content: () -> AnyViewStub) {}
}
struct Picker<SelectionValue: Hashable>: PrimitiveView {
    init(_ title: LocalizedStringKey, selection: Binding<SelectionValue>, @ViewBuilder content: () -> AnyViewStub) {}
}
struct ForEach<Data: RandomAccessCollection>: PrimitiveView {
    init<ID: Hashable>(_ data: Data, id: KeyPath<Data.Element, ID>,
                       @ViewBuilder content: @escaping (Data.Element) -> AnyViewStub) {}
    init(_ data: Data, @ViewBuilder content: @escaping (Data.Element) -> AnyViewStub) where Data.Element: Identifiable {}
}
struct Slider: PrimitiveView { init(value: Binding<Double>, in bounds: ClosedRange<Double>, step: Double) {} }
struct LabeledContent: PrimitiveView {
    init<S: StringProtocol>(_ titleKey: LocalizedStringKey, value: S) {}
    init<S1: StringProtocol, S2: StringProtocol>(_ title: S1, value: S2) {}
}
struct PHPickerFilter { static let images = PHPickerFilter() }
struct PhotosPicker: PrimitiveView {
    init(selection: Binding<PhotosPickerItem?>, matching filter: PHPickerFilter?, @ViewBuilder label: () -> AnyViewStub) {}
}

@propertyWrapper struct Binding<Value> {
    var wrappedValue: Value { get { fatalError() } nonmutating set {} }
    var projectedValue: Binding<Value> { self }
}
@propertyWrapper struct State<Value> {
    init(wrappedValue: Value) {}
    var wrappedValue: Value { get { fatalError() } nonmutating set {} }
    var projectedValue: Binding<Value> { fatalError() }
}
@propertyWrapper struct StateObject<Object: ObservableObject> {
    init(wrappedValue: @autoclosure @escaping () -> Object) {}
    var wrappedValue: Object { fatalError() }
}
@propertyWrapper struct ObservedObject<Object: ObservableObject> {
    var wrappedValue: Object
    init(wrappedValue: Object) { self.wrappedValue = wrappedValue }
}
@propertyWrapper struct EnvironmentObject<Object: ObservableObject> {
    init() {}
    var wrappedValue: Object { fatalError() }
    @dynamicMemberLookup struct Wrapper {
        subscript<T>(dynamicMember keyPath: ReferenceWritableKeyPath<Object, T>) -> Binding<T> { fatalError() }
    }
    var projectedValue: Wrapper { Wrapper() }
}
struct OpenURLAction { func callAsFunction(_ url: URL) {} }
struct DismissAction { func callAsFunction() {} }
struct EnvironmentValues { var openURL = OpenURLAction(); var dismiss = DismissAction() }
@propertyWrapper struct Environment<Value> {
    init(_ keyPath: KeyPath<EnvironmentValues, Value>) {}
    var wrappedValue: Value { fatalError() }
}
