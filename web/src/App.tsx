import { lazy, Suspense, useEffect, useMemo } from "react";
import { MantineProvider, createTheme } from "@mantine/core";
import { Notifications } from "@mantine/notifications";
import { ModalsProvider } from "@mantine/modals";
import { QueryClientProvider, useQueryClient } from "@tanstack/react-query";
import { createBrowserRouter, Navigate, RouterProvider, useNavigate, Outlet } from "react-router";
import { I18nProvider, useI18n } from "./lib/i18n";
import { makeQueryClient } from "./lib/queryClient";
import { onUnauthorized } from "./api/client";
import { Layout } from "./components/Layout";
import { SignInPage } from "./pages/SignIn";
import { SignUpPage } from "./pages/SignUp";
import { ForgotPasswordPage, ResetPasswordPage } from "./pages/PasswordReset";
import { StatusPage } from "./pages/Status";
import { EmployeesPage } from "./pages/Employees";
import { DepartmentsPage } from "./pages/Departments";
import { ContactsPage } from "./pages/Contacts";
import { ProfilePage } from "./pages/Profile";
import { CallLogPage } from "./pages/CallLog";
import { StatisticsPage } from "./pages/Statistics";
import { RecordingsPage } from "./pages/Recordings";
import { StorePage } from "./pages/Store";
import { OfficePage } from "./pages/Office";
import { NumbersPage } from "./pages/Numbers";
import { LoadingState, NotFound } from "./components/States";

// The Logic section (React Flow) and forwarding load on first visit: the main bundle stays lean.
const LogicListPage = lazy(() => import("./pages/LogicList"));
const LogicEditorPage = lazy(() => import("./pages/LogicEditor"));
const ForwardingPage = lazy(() => import("./pages/Forwarding"));
const WidgetSitesPage = lazy(() => import("./pages/WidgetSites"));
const MessagesPage = lazy(() => import("./pages/Messages"));
const MailingsPage = lazy(() => import("./pages/Mailings"));
const MessageHistoryPage = lazy(() => import("./pages/MessageHistory"));
const VoicemailPage = lazy(() => import("./pages/Voicemail"));
const later = (page: React.ReactNode) => <Suspense fallback={<LoadingState />}>{page}</Suspense>;

const theme = createTheme({ primaryColor: "blue", defaultRadius: "md" });

/** Any 401 from the API (expired session) sends the user to the sign-in page. */
function SessionWatch() {
  const navigate = useNavigate();
  const qc = useQueryClient();
  useEffect(
    () =>
      onUnauthorized(() => {
        qc.removeQueries({ queryKey: ["me"] });
        navigate("/signin", { replace: true });
      }),
    [navigate, qc],
  );
  return <Outlet />;
}

function ModalsWithLabels({ children }: { children: React.ReactNode }) {
  const { t } = useI18n();
  return (
    <ModalsProvider labels={{ confirm: t("common.yes"), cancel: t("common.cancel") }}>
      {children}
    </ModalsProvider>
  );
}

export function App() {
  const queryClient = useMemo(makeQueryClient, []);
  const router = useMemo(
    () =>
      createBrowserRouter([
        {
          element: <SessionWatch />,
          children: [
            { path: "/signin", element: <SignInPage /> },
            { path: "/signup", element: <SignUpPage /> },
            { path: "/forgot-password", element: <ForgotPasswordPage /> },
            { path: "/reset-password", element: <ResetPasswordPage /> },
            {
              element: <Layout />,
              children: [
                { index: true, element: <Navigate to="/status" replace /> },
                { path: "/status", element: <StatusPage /> },
                { path: "/employees", element: <EmployeesPage /> },
                { path: "/departments", element: <DepartmentsPage /> },
                { path: "/contacts", element: <ContactsPage /> },
                { path: "/profile", element: <ProfilePage /> },
                { path: "/calls", element: <CallLogPage /> },
                { path: "/statistics", element: <StatisticsPage /> },
                { path: "/recordings", element: <RecordingsPage /> },
                { path: "/store", element: <StorePage /> },
                { path: "/office", element: <OfficePage /> },
                { path: "/numbers", element: <NumbersPage /> },
                { path: "/logic", element: later(<LogicListPage />) },
                { path: "/logic/:id", element: later(<LogicEditorPage />) },
                { path: "/forwarding", element: later(<ForwardingPage />) },
                { path: "/widget-sites", element: later(<WidgetSitesPage />) },
                { path: "/messages", element: later(<MessagesPage />) },
                { path: "/messages/mailings", element: later(<MailingsPage />) },
                { path: "/reports/messages", element: later(<MessageHistoryPage />) },
                { path: "/voicemail", element: later(<VoicemailPage />) },
                { path: "*", element: <NotFound /> },
              ],
            },
          ],
        },
      ]),
    [],
  );
  return (
    <MantineProvider theme={theme} defaultColorScheme="light">
      <QueryClientProvider client={queryClient}>
        <I18nProvider>
          <ModalsWithLabels>
            <Notifications position="top-right" />
            <RouterProvider router={router} />
          </ModalsWithLabels>
        </I18nProvider>
      </QueryClientProvider>
    </MantineProvider>
  );
}
