/**
 * Every user-facing string of the web app, in Vietnamese (the default) and English, in one typed
 * dictionary. `Messages` is the shape of the English table; the Vietnamese one must have exactly
 * the same keys, so a key missing in either language, or used but defined nowhere, is a type
 * error. Strings that take values are functions. Numbers and dates are formatted by i18n.tsx, not
 * here.
 */
import type { Category, RunStatus } from '../api/types.ts';

export const LANGUAGES = ['vi', 'en'] as const;
export type Language = (typeof LANGUAGES)[number];

const en = {
  appName: 'idbind',
  appTagline: 'Identity-verification hub',
  skipToContent: 'Skip to main content',
  mainNavigation: 'Main',
  languageSwitch: 'Language',
  modeDemo: 'Demo mode: synthetic data',
  modeProduction: 'Production',
  versionLabel: (version: string) => `Version ${version}`,
  loading: 'Loading…',
  retry: 'Try again',
  refresh: 'Refresh',
  notFoundTitle: 'Page not found',
  notFoundBody: 'There is no page at this address.',
  goToRegistries: 'Go to registries and junk SIMs',

  // Sign-in with the admin token (production mode).
  tokenTitle: 'Sign in with the admin token',
  tokenIntro:
    'This hub runs in production mode. Enter the admin token (IDBIND_ADMIN_TOKEN). It is kept for this browser tab only and forgotten when the tab is closed.',
  tokenLabel: 'Admin token',
  tokenSubmit: 'Sign in',
  tokenChecking: 'Checking…',
  tokenEmpty: 'Enter the admin token.',
  tokenRejected: 'The hub refused this token. Check it and try again.',
  tokenExpired: 'The hub no longer accepts your admin token. Enter it again.',
  signOut: 'Sign out',
  demoSessionFailed: 'The demo session could not be opened.',

  // Errors.
  errorNetwork: 'The hub could not be reached. Check your connection and try again.',
  errorHttp: (status: number) => `The hub answered with an error (HTTP ${status}).`,
  errorCode: 'Error code',
  loadFailed: 'The figures could not be loaded.',

  // The page.
  registriesTitle: 'Registries and junk SIMs',
  registriesIntro:
    'The size of the population and subscriber registries, and the junk-SIM reconciliation: every subscription that is not terminated is checked against the population registry and put in the first category that applies.',
  sizesTitle: 'Registry sizes',
  peopleTitle: 'Population registry',
  peopleTotal: 'People',
  peopleAlive: 'Alive',
  peopleDeceased: 'Deceased',
  subscriptionsTitle: 'Subscriber registry',
  subscriptionsTotal: 'Subscriptions',
  subscriptionsLive: 'Live (not terminated)',
  subscriptionsTerminated: 'Terminated',
  carriersCaption: 'Subscriptions per carrier',
  columnCarrier: 'Carrier',
  columnSubscriptions: 'Subscriptions',
  columnLive: 'Live',
  noCarriers: 'No carrier has loaded subscriptions yet.',

  reconciliationTitle: 'Junk-SIM reconciliation',
  latestTitle: 'Latest run',
  runStarted: 'Started',
  runFinished: 'Finished',
  runSubscriptions: 'Subscriptions checked',
  runId: 'Run ID',
  noCompletedRun: 'No reconciliation has completed yet.',
  latestChartTitle: 'Subscriptions to fix per carrier and category',
  latestChartDescription:
    'Horizontal bar chart: one group of bars per carrier, one bar per category. The table below gives the same figures.',
  latestTableCaption: 'Subscriptions to fix per carrier and category, latest run',
  columnTotal: 'Total',
  allCarriers: 'All carriers',
  legendTitle: 'Categories',
  changesCaption: 'Change since the previous run',
  columnCategory: 'Category',
  columnCount: 'Count',
  columnNew: 'New',
  columnResolved: 'Resolved',
  noPreviousRun: 'This is the first completed run: there is no previous run to compare with.',

  trendTitle: 'Trend across runs',
  trendRunCount: 'Completed runs',
  trendChartTitle: 'Subscriptions to fix per category, run by run',
  trendChartDescription: 'Line chart: one line per category, one point per completed run, oldest on the left. The table below gives the same figures.',
  trendTableCaption: 'Count per category, one row per completed run, oldest first',
  columnRunStarted: 'Run started',
  trendEmpty: 'The trend appears once a reconciliation has completed.',
  axisCount: 'Subscriptions',
  axisRun: 'Run',

  downloadsTitle: 'Action lists',
  downloadsIntro:
    "Each carrier's action list from the latest run: one line per subscription to fix, with the number and the category code (CSV). It holds no other personal data.",
  downloadFor: (carrier: string) => `${carrier} action list (CSV)`,
  downloading: 'Downloading…',
  downloadFailed: 'The download failed.',
  noDownloads: 'Action lists appear once a reconciliation has completed.',

  startRun: 'Start reconciliation',
  startingRun: 'Starting…',
  runInProgress: 'Reconciliation in progress',
  runRunningFor: (elapsed: string) => `Running for ${elapsed}.`,
  runCompleted: 'The reconciliation has completed. The figures are up to date.',
  runFailed: 'The reconciliation failed.',
  startFailed: 'The reconciliation could not be started.',
  seconds: (n: number) => `${n} s`,
  minutesSeconds: (m: number, s: number) => `${m} min ${s} s`,

  runStatus: {
    running: 'Running',
    completed: 'Completed',
    failed: 'Failed',
  } satisfies Record<RunStatus, string>,

  category: {
    NO_HOLDER: 'No holder recorded',
    HOLDER_NOT_FOUND: 'Holder not in population registry',
    HOLDER_DECEASED: 'Holder deceased',
    HOLDER_DATA_MISMATCH: 'Holder data mismatch',
    ONLINE_BEYOND_LIMIT: 'Online registration beyond limit',
  } satisfies Record<Category, string>,
};

export type Messages = typeof en;

const vi: Messages = {
  appName: 'idbind',
  appTagline: 'Hệ thống xác thực danh tính',
  skipToContent: 'Chuyển đến nội dung chính',
  mainNavigation: 'Điều hướng chính',
  languageSwitch: 'Ngôn ngữ',
  modeDemo: 'Chế độ trình diễn: dữ liệu tổng hợp',
  modeProduction: 'Chế độ vận hành',
  versionLabel: (version) => `Phiên bản ${version}`,
  loading: 'Đang tải…',
  retry: 'Thử lại',
  refresh: 'Làm mới',
  notFoundTitle: 'Không tìm thấy trang',
  notFoundBody: 'Không có trang nào ở địa chỉ này.',
  goToRegistries: 'Đến trang dữ liệu và SIM rác',

  tokenTitle: 'Đăng nhập bằng mã quản trị',
  tokenIntro:
    'Hệ thống đang chạy ở chế độ vận hành. Hãy nhập mã quản trị (IDBIND_ADMIN_TOKEN). Mã chỉ được lưu trong thẻ trình duyệt này và sẽ bị xoá khi đóng thẻ.',
  tokenLabel: 'Mã quản trị',
  tokenSubmit: 'Đăng nhập',
  tokenChecking: 'Đang kiểm tra…',
  tokenEmpty: 'Vui lòng nhập mã quản trị.',
  tokenRejected: 'Hệ thống từ chối mã này. Vui lòng kiểm tra lại và thử lần nữa.',
  tokenExpired: 'Mã quản trị của bạn không còn được chấp nhận. Vui lòng nhập lại.',
  signOut: 'Đăng xuất',
  demoSessionFailed: 'Không mở được phiên trình diễn.',

  errorNetwork: 'Không kết nối được với hệ thống. Vui lòng kiểm tra kết nối và thử lại.',
  errorHttp: (status) => `Hệ thống trả về lỗi (HTTP ${status}).`,
  errorCode: 'Mã lỗi',
  loadFailed: 'Không tải được số liệu.',

  registriesTitle: 'Dữ liệu dân cư, thuê bao và SIM rác',
  registriesIntro:
    'Quy mô cơ sở dữ liệu dân cư và cơ sở dữ liệu thuê bao, cùng kết quả đối soát SIM rác: mỗi thuê bao chưa chấm dứt được đối chiếu với cơ sở dữ liệu dân cư và xếp vào nhóm đầu tiên mà nó thuộc về.',
  sizesTitle: 'Quy mô cơ sở dữ liệu',
  peopleTitle: 'Cơ sở dữ liệu dân cư',
  peopleTotal: 'Số người',
  peopleAlive: 'Còn sống',
  peopleDeceased: 'Đã mất',
  subscriptionsTitle: 'Cơ sở dữ liệu thuê bao',
  subscriptionsTotal: 'Số thuê bao',
  subscriptionsLive: 'Đang hoạt động (chưa chấm dứt)',
  subscriptionsTerminated: 'Đã chấm dứt',
  carriersCaption: 'Thuê bao theo nhà mạng',
  columnCarrier: 'Nhà mạng',
  columnSubscriptions: 'Số thuê bao',
  columnLive: 'Đang hoạt động',
  noCarriers: 'Chưa có nhà mạng nào nạp dữ liệu thuê bao.',

  reconciliationTitle: 'Đối soát SIM rác',
  latestTitle: 'Lần đối soát gần nhất',
  runStarted: 'Bắt đầu',
  runFinished: 'Kết thúc',
  runSubscriptions: 'Số thuê bao đã đối soát',
  runId: 'Mã lần đối soát',
  noCompletedRun: 'Chưa có lần đối soát nào hoàn tất.',
  latestChartTitle: 'Số thuê bao cần xử lý theo nhà mạng và nhóm',
  latestChartDescription:
    'Biểu đồ thanh ngang: mỗi nhà mạng một cụm thanh, mỗi nhóm một thanh. Bảng bên dưới có cùng số liệu.',
  latestTableCaption: 'Số thuê bao cần xử lý theo nhà mạng và nhóm, lần đối soát gần nhất',
  columnTotal: 'Tổng',
  allCarriers: 'Tất cả nhà mạng',
  legendTitle: 'Các nhóm',
  changesCaption: 'Thay đổi so với lần đối soát trước',
  columnCategory: 'Nhóm',
  columnCount: 'Số lượng',
  columnNew: 'Mới phát sinh',
  columnResolved: 'Đã xử lý xong',
  noPreviousRun: 'Đây là lần đối soát hoàn tất đầu tiên nên chưa có lần trước để so sánh.',

  trendTitle: 'Diễn biến qua các lần đối soát',
  trendRunCount: 'Số lần đối soát đã hoàn tất',
  trendChartTitle: 'Số thuê bao cần xử lý theo nhóm qua từng lần đối soát',
  trendChartDescription:
    'Biểu đồ đường: mỗi nhóm một đường, mỗi lần đối soát hoàn tất một điểm, lần cũ nhất ở bên trái. Bảng bên dưới có cùng số liệu.',
  trendTableCaption: 'Số lượng theo nhóm, mỗi dòng một lần đối soát hoàn tất, lần cũ nhất trước',
  columnRunStarted: 'Thời điểm bắt đầu',
  trendEmpty: 'Diễn biến sẽ hiển thị khi có lần đối soát hoàn tất.',
  axisCount: 'Số thuê bao',
  axisRun: 'Lần đối soát',

  downloadsTitle: 'Danh sách cần xử lý',
  downloadsIntro:
    'Danh sách cần xử lý của từng nhà mạng theo lần đối soát gần nhất: mỗi dòng một thuê bao cần xử lý, gồm số thuê bao và mã nhóm (CSV). Tệp không chứa dữ liệu cá nhân nào khác.',
  downloadFor: (carrier) => `Danh sách của ${carrier} (CSV)`,
  downloading: 'Đang tải xuống…',
  downloadFailed: 'Tải xuống không thành công.',
  noDownloads: 'Danh sách cần xử lý sẽ có khi một lần đối soát hoàn tất.',

  startRun: 'Bắt đầu đối soát',
  startingRun: 'Đang khởi động…',
  runInProgress: 'Đang đối soát',
  runRunningFor: (elapsed) => `Đã chạy ${elapsed}.`,
  runCompleted: 'Đối soát đã hoàn tất. Số liệu đã được cập nhật.',
  runFailed: 'Lần đối soát không thành công.',
  startFailed: 'Không thể bắt đầu đối soát.',
  seconds: (n) => `${n} giây`,
  minutesSeconds: (m, s) => `${m} phút ${s} giây`,

  runStatus: {
    running: 'Đang chạy',
    completed: 'Hoàn tất',
    failed: 'Thất bại',
  },

  category: {
    NO_HOLDER: 'Không có chủ thuê bao',
    HOLDER_NOT_FOUND: 'Chủ thuê bao không có trong CSDL dân cư',
    HOLDER_DECEASED: 'Chủ thuê bao đã mất',
    HOLDER_DATA_MISMATCH: 'Thông tin chủ thuê bao không khớp',
    ONLINE_BEYOND_LIMIT: 'Đăng ký trực tuyến vượt giới hạn',
  },
};

/** The dictionary: one table per language, each complete. */
export const dictionary: Record<Language, Messages> = { vi, en };

/** Each language's name in its own language, for the switch. */
export const languageNames: Record<Language, string> = { vi: 'Tiếng Việt', en: 'English' };

/** The locale used to format numbers and dates (vi-VN groups thousands with "."). */
export const locales: Record<Language, string> = { vi: 'vi-VN', en: 'en-GB' };
