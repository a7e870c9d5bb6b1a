import { api } from "../api";
import { h, errorText } from "../ui";

export async function loginPage(root: HTMLElement, done: () => Promise<void>) {
  const email = h("input", { type: "email", name: "email", autocomplete: "username", required: true, placeholder: "name@hospital.org" });
  const password = h("input", { type: "password", name: "password", autocomplete: "current-password", required: true });
  const error = h("p", { class: "form-error", role: "alert" });
  const submit = h("button", { type: "submit", class: "primary" }, "Sign in");
  const form = h(
    "form",
    { class: "login-card card", "aria-label": "Sign in" },
    h("div", { class: "brand big" }, h("span", { class: "logo" }, "M"), "medprint"),
    h("p", { class: "muted" }, "Patient-specific 3D printed anatomy, from scan to theatre."),
    h("label", { class: "field" }, h("span", { class: "field-label" }, "E-mail"), email),
    h("label", { class: "field" }, h("span", { class: "field-label" }, "Password"), password),
    error,
    submit,
  );
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    error.textContent = "";
    submit.disabled = true;
    try {
      await api.login(email.value.trim(), password.value);
      await done();
    } catch (err) {
      error.textContent = /401|credentials|login/i.test(errorText(err)) ? "E-mail or password is not right." : errorText(err);
    } finally {
      submit.disabled = false;
    }
  });
  root.appendChild(h("div", { class: "login-page" }, form));
  email.focus();
}
