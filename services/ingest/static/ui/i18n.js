// Strings of both components in English and Russian. The locale comes from the element's
// `locale` attribute, else the token's `locale` claim, else the page's <html lang>.
const STRINGS = {
  en: {
    inbox: "Inbox", bell: (n) => `Unread notifications: ${n}`, notifications: "Notifications",
    module: "Module", allModules: "All modules", show: "Show", all: "All", unread: "Unread",
    archive: "Archive", readAll: "Mark all read", older: "Older", empty: "Nothing here yet.",
    markRead: "Mark read", markUnread: "Mark unread", doArchive: "Archive", unarchive: "Restore",
    state: {
      connecting: "connecting", live: "live", catchingUp: "catching up",
      reconnecting: (s) => `reconnecting in ${s} s`, offline: "offline: sign in again",
    },
    connection: "Connection",
    error: "Something went wrong", unavailable: "Herald is unavailable right now; retrying",
    refused: "The server refused the change", rateLimited: (s) => `Too many previews; next in ${s} s`,
    settings: "Notification settings", channels: "Channels", channelMode: (m, c) => `${m} — ${c}`,
    modes: { instant: "instant", digest: "digest", off: "off" }, cannotOff: "cannot turn off",
    critical: (types) => `Critical: ${types} — always delivered`, defaultSuffix: "(default)",
    star: "All modules", saved: "Saved", schedule: "Digest schedule", days: "Days",
    dayNames: ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"], time: "Time", zone: "Time zone",
    enabled: "Enabled", save: "Save", nextRun: "Next digest", waiting: (n) => `${n} waiting`,
    subscriptions: "Saved filters", name: "Name", source: "Module", entityType: "Entity type",
    project: "Project", types: "Event types (comma separated)", conditions: "Conditions",
    field: "Field", op: "Operator", value: "Value", scope: "Look in",
    scopes: { attributes: "attributes", payload: "payload", event: "event" },
    addCondition: "Add condition", remove: "Remove", create: "New filter", edit: "Edit",
    del: "Delete", cancel: "Cancel", preview: "Preview",
    previewResult: (m, s) => `${m} of ${s} recent events match`, noSubscriptions: "No saved filters.",
    on: "on", off: "off",
    telegram: "Telegram", linked: "Telegram is linked", notLinked: "Telegram is not linked",
    link: "Link Telegram", unlink: "Unlink", openLink: "Open the bot to finish linking",
    expires: "The link expires at", notConfigured: "Telegram is not configured on this server",
  },
  ru: {
    inbox: "Входящие", bell: (n) => `Непрочитанных уведомлений: ${n}`, notifications: "Уведомления",
    module: "Модуль", allModules: "Все модули", show: "Показать", all: "Все", unread: "Непрочитанные",
    archive: "Архив", readAll: "Прочитать все", older: "Раньше", empty: "Здесь пока пусто.",
    markRead: "Прочитано", markUnread: "Не прочитано", doArchive: "В архив", unarchive: "Вернуть",
    state: {
      connecting: "подключение", live: "на связи", catchingUp: "догоняем",
      reconnecting: (s) => `переподключение через ${s} с`, offline: "не в сети: войдите снова",
    },
    connection: "Соединение",
    error: "Что-то пошло не так", unavailable: "Herald сейчас недоступен; повторяем",
    refused: "Сервер отклонил изменение",
    rateLimited: (s) => `Слишком много предпросмотров; следующий через ${s} с`,
    settings: "Настройки уведомлений", channels: "Каналы", channelMode: (m, c) => `${m} — ${c}`,
    modes: { instant: "сразу", digest: "дайджест", off: "выкл." }, cannotOff: "нельзя отключить",
    critical: (types) => `Критичные: ${types} — доставляются всегда`, defaultSuffix: "(по умолчанию)",
    star: "Все модули", saved: "Сохранено", schedule: "Расписание дайджеста", days: "Дни",
    dayNames: ["Пн", "Вт", "Ср", "Чт", "Пт", "Сб", "Вс"], time: "Время", zone: "Часовой пояс",
    enabled: "Включён", save: "Сохранить", nextRun: "Следующий дайджест",
    waiting: (n) => `ждут: ${n}`,
    subscriptions: "Сохранённые фильтры", name: "Название", source: "Модуль",
    entityType: "Тип объекта", project: "Проект", types: "Типы событий (через запятую)",
    conditions: "Условия", field: "Поле", op: "Оператор", value: "Значение", scope: "Где искать",
    scopes: { attributes: "атрибуты", payload: "данные события", event: "событие" },
    addCondition: "Добавить условие", remove: "Удалить", create: "Новый фильтр", edit: "Изменить",
    del: "Удалить", cancel: "Отмена", preview: "Предпросмотр",
    previewResult: (m, s) => `Подходят ${m} из ${s} недавних событий`,
    noSubscriptions: "Сохранённых фильтров нет.", on: "вкл.", off: "выкл.",
    telegram: "Telegram", linked: "Telegram привязан", notLinked: "Telegram не привязан",
    link: "Привязать Telegram", unlink: "Отвязать", openLink: "Откройте бота, чтобы завершить привязку",
    expires: "Ссылка действует до", notConfigured: "Telegram на этом сервере не настроен",
  },
};

export function claimsOf(token) {
  try {
    const part = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    return JSON.parse(decodeURIComponent(escape(atob(part))));
  } catch {
    return {};
  }
}

export function pickLocale(attribute, token) {
  const wanted = attribute || claimsOf(token || "").locale || document.documentElement.lang || "en";
  return String(wanted).toLowerCase().startsWith("ru") ? "ru" : "en";
}

export function strings(locale) {
  return STRINGS[locale] || STRINGS.en;
}
