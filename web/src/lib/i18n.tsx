import { createContext, useCallback, useContext, useMemo, useState, type ReactNode } from "react";
import { detectLang, translate, type Key, type Lang } from "./i18n-dict";
import { formatDate, formatDateTime } from "./dates";

export type { Key, Lang };
const STORAGE_KEY = "clickphone.lang";

interface I18n {
  lang: Lang;
  setLang: (lang: Lang) => void;
  t: (key: Key, vars?: Record<string, string | number>) => string;
  date: (v: string | Date | null | undefined) => string;
  dateTime: (v: string | Date | null | undefined) => string;
}

const Ctx = createContext<I18n | null>(null);

function initialLang(): Lang {
  let stored: string | null = null;
  try {
    stored = localStorage.getItem(STORAGE_KEY);
  } catch {
    stored = null;
  }
  return detectLang(stored, typeof navigator !== "undefined" ? navigator.language : undefined);
}

export function I18nProvider({ children, lang: fixed }: { children: ReactNode; lang?: Lang }) {
  const [lang, setLangState] = useState<Lang>(fixed ?? initialLang);
  const setLang = useCallback((next: Lang) => {
    setLangState(next);
    try {
      localStorage.setItem(STORAGE_KEY, next);
    } catch {
      /* private mode: keep it for this tab only */
    }
    document.documentElement.lang = next;
  }, []);
  const value = useMemo<I18n>(
    () => ({
      lang,
      setLang,
      t: (key, vars) => translate(lang, key, vars),
      date: (v) => formatDate(v, lang),
      dateTime: (v) => formatDateTime(v, lang),
    }),
    [lang, setLang],
  );
  return <Ctx.Provider value={value}>{children}</Ctx.Provider>;
}

export function useI18n(): I18n {
  const v = useContext(Ctx);
  if (!v) throw new Error("useI18n outside I18nProvider");
  return v;
}
